"""The gateway's web pages: catalog, model reference pages, playground, account and admin dashboards."""
