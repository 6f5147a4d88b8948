"""One module per resource; `API_ROUTERS` is every JSON API router, in the order the app includes them."""

from fastapi import APIRouter

from . import (
    account,
    activity,
    admin,
    chat,
    files,
    image_delete,
    image_library,
    images,
    jobs,
    margin,
    metrics,
    models,
    responses,
    usage,
    webhooks,
)

API_ROUTERS: tuple[APIRouter, ...] = tuple(
    module.router
    for module in (
        images,
        chat,
        responses,
        jobs,
        models,
        files,
        account,
        activity,
        usage,
        webhooks,
        admin,
        margin,
        image_delete,
        image_library,
        metrics,
    )
)

__all__ = ["API_ROUTERS", "chat", "images", "responses"]
