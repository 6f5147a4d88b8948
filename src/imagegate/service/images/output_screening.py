"""Output screening (`IMAGEGATE_OUTPUT_SCREENING`): every image an upstream made is read by a
classifier before it is delivered, and judged by the safety policy's `[output]` categories (an
account's stricter policy included). It runs between the upstream call and delivery, for every
operation and surface, in `ImageService.execute` and `ImageStream.run`.

The rule for several images (`n > 1`): a flagged image is dropped and the others are delivered and
billed, like any partial result; when every image is flagged the request is refused, 451
`output_blocked` (stage `output`), billed nothing. Each dropped image leaves a block record in the
audit log, and the usage record counts it in `lost_images` (settlement): made, and paid for
upstream by the operator, never handed out.
"""

from __future__ import annotations

import asyncio
import functools
import logging

import anyio.to_thread

from ...domain.errors import ContentBlocked, UpstreamFailed
from ...domain.output_policy import OutputCategory, OutputPolicy, OutputVerdict
from ...domain.ports import ImageClassifier, ModerationUnavailable
from ...domain.principal import Principal
from ...domain.request import ImageRequest
from ...domain.safety_policy import AccountSafety
from ...domain.upstream import GeneratedImage, ScreeningImage
from ...imaging.images import BadImage, inspect, screening_view
from ...imaging.pixels import reserve
from ..degraded import serve_without_or_refuse
from .screening import POLICY_CACHE_SIZE, PromptScreen

log = logging.getLogger("imagegate.safety")

OUTPUT = "output"


class OutputScreen:
    def __init__(
        self,
        policy: OutputPolicy,
        classifier: ImageClassifier,
        audit: PromptScreen | None,
        *,
        fail_open: bool = True,
    ) -> None:
        self._policy = policy
        self._classifier = classifier
        self._audit = audit
        self._fail_open = fail_open
        self._stricter = functools.lru_cache(maxsize=POLICY_CACHE_SIZE)(policy.stricter)

    async def screen(
        self, images: list[GeneratedImage], request: ImageRequest, principal: Principal, request_id: str
    ) -> list[GeneratedImage]:
        """The images that pass, in their order. Raises `ContentBlocked` (451 `output_blocked`) when
        none does, and `ServiceUnavailable` when the classifier cannot answer and `_ON_ERROR` is
        `closed` (`open`: all pass unscreened)."""
        try:
            verdicts = await asyncio.gather(*(self._judge(image, principal.safety) for image in images))
        except ModerationUnavailable as exc:
            serve_without_or_refuse(
                self._fail_open,
                "output screening",
                exc,
                message="The images could not be screened right now; try again shortly. Nothing was charged.",
                code="moderation_unavailable",
                retry_after=5,
            )
            return images
        delivered = [image for image, verdict in zip(images, verdicts, strict=True) if verdict.blocked is None]
        blocks = [verdict.blocked for verdict in verdicts if verdict.blocked is not None]
        for verdict in verdicts:
            for category in verdict.flagged:
                await self._record_flag(category, principal, request_id, request)
        for category in blocks:
            await self._record(_blocked(category), principal, request_id, request)
        if blocks and not delivered:
            raise _blocked(blocks[0], recorded=True)
        return delivered

    async def _judge(self, image: GeneratedImage, account: AccountSafety) -> OutputVerdict:
        scores = await self._classifier.scores(image.view or await self._view(image.data))
        return self._policy_for(account).judge(self._classifier.kind, scores)

    async def _view(self, data: bytes) -> ScreeningImage:
        """The pixels decoded once, reduced, in the pixel budget (bytes conform passed through as they came)."""
        try:
            info = inspect(data)  # header only: what the decode will cost the pixel budget
            async with reserve(info.width * info.height):
                return await anyio.to_thread.run_sync(screening_view, data, self._classifier.view_side)
        except BadImage as exc:  # conform checked these bytes; one that fails now is never passed unseen
            raise UpstreamFailed("The upstream delivered an image that does not decode. Nothing was charged.") from exc

    def _policy_for(self, account: AccountSafety) -> OutputPolicy:
        if not account.block_categories:
            return self._policy
        return self._stricter(account.block_categories)

    async def _record(
        self, blocked: ContentBlocked, principal: Principal, request_id: str, request: ImageRequest
    ) -> None:
        if self._audit is not None:
            await self._audit.record_block(blocked, principal, request_id, request)

    async def _record_flag(
        self, category: OutputCategory, principal: Principal, request_id: str, request: ImageRequest
    ) -> None:
        if self._audit is not None:
            await self._audit.record_flag(category.name, OUTPUT, principal, request_id, request)


def _blocked(category: OutputCategory, *, recorded: bool = False) -> ContentBlocked:
    return ContentBlocked(
        f"The generated image was blocked by this gateway's output screening (category: {category.label}). "
        "Nothing was charged.",
        code="output_blocked",
        stage=OUTPUT,
        category=category.name,
        recorded=recorded,
    )


__all__ = ["OUTPUT", "OutputScreen"]
