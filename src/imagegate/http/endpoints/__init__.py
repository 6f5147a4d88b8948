"""One module per resource; `API_ROUTERS` is every JSON API router, in the order the app includes them."""

from fastapi import APIRouter

from . import (
    account,
    activity,
    admin,
    admin_budgets,
    batch_files,
    batches,
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
        batch_files,  # before `files`: its `file-…` paths would otherwise be taken for image downloads
        files,
        batches,
        account,
        activity,
        usage,
        webhooks,
        admin,
        admin_budgets,
        margin,
        image_delete,
        image_library,
        metrics,
    )
)

__all__ = ["API_ROUTERS", "chat", "images", "responses"]
