"""The HTTP edge: FastAPI app, authentication, routes and the one error renderer."""
