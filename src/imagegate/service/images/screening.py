"""Step 4 of a request: the prompt against the safety policy, then the optional moderation stage.

Also the audit log: every block (ours or the upstream's) and every flag is recorded here.
"""

from __future__ import annotations

import asyncio
import functools
import logging

from ...db.safety import SafetyEventsRepo
from ...domain.errors import ContentBlocked
from ...domain.meter import NULL_METER, Meter
from ...domain.ports import ModerationUnavailable, Moderator
from ...domain.principal import Principal
from ...domain.request import ImageRequest
from ...domain.safety_policy import AccountSafety, SafetyPolicy
from ..degraded import serve_without_or_refuse

log = logging.getLogger("imagegate.safety")

GATEWAY = "gateway"
POLICY_CACHE_SIZE = 1024
"""Accounts whose stricter policy is kept made (the prompt screen's, and the output screen's)."""


class PromptScreen:
    def __init__(
        self,
        policy: SafetyPolicy,
        events: SafetyEventsRepo,
        *,
        moderator: Moderator | None = None,
        moderation_fail_open: bool = True,
        audit_prompts: bool = False,
        meter: Meter = NULL_METER,
    ) -> None:
        """`meter`: counts each block by category and stage."""
        self._policy = policy
        self._events = events
        self._moderator = moderator
        self._moderation_fail_open = moderation_fail_open
        self._audit_prompts = audit_prompts
        self._meter = meter
        self._stricter = functools.lru_cache(maxsize=POLICY_CACHE_SIZE)(policy.stricter)
        """The policy made stricter by an account's own settings, kept for the accounts seen lately."""

    async def check(self, request: ImageRequest, principal: Principal, request_id: str) -> None:
        """Return if the prompt may go on; raise ContentBlocked (451) if not."""
        verdict = self._policy_for(principal.safety).screen(request.prompt)
        for category in verdict.flagged:
            await self._audit(principal, request_id, request.prompt, "flag", GATEWAY, category.name, None)
        if verdict.blocked is not None:
            raise ContentBlocked(
                f"The prompt was blocked by this gateway's content policy (category: {verdict.blocked.label}). "
                "Nothing was charged.",
                stage=GATEWAY,
                category=verdict.blocked.name,
            )
        if self._moderator is not None:
            await self._moderate(request.prompt)

    async def record_block(
        self, blocked: ContentBlocked, principal: Principal, request_id: str, request: ImageRequest | None
    ) -> None:
        self._meter.blocked(blocked.category or blocked.code, blocked.stage)
        prompt = request.prompt if request is not None else None
        await self._audit(principal, request_id, prompt, "block", blocked.stage, blocked.category, blocked.code)

    async def record_flag(
        self, category: str, stage: str, principal: Principal, request_id: str, request: ImageRequest | None
    ) -> None:
        """A flag raised elsewhere (output screening): audited like the prompt's own."""
        prompt = request.prompt if request is not None else None
        await self._audit(principal, request_id, prompt, "flag", stage, category, None)

    async def _moderate(self, prompt: str) -> None:
        assert self._moderator is not None
        try:
            category = await self._moderator.flagged_category(prompt)
        except ModerationUnavailable as exc:
            serve_without_or_refuse(
                self._moderation_fail_open,
                "moderation stage",
                exc,
                message="The prompt could not be screened right now; try again shortly. Nothing was charged.",
                code="moderation_unavailable",
                retry_after=5,
            )
            return
        if category is not None:
            raise ContentBlocked(
                f"The prompt was blocked by this gateway's moderation check (category: {category}). "
                "Nothing was charged.",
                stage=GATEWAY,
                category=f"moderation:{category}",
            )

    def _policy_for(self, extra: AccountSafety) -> SafetyPolicy:
        return self._policy if extra.empty else self._stricter(extra)

    async def _audit(
        self,
        principal: Principal,
        request_id: str,
        prompt: str | None,
        action: str,
        stage: str,
        category: str | None,
        code: str | None,
    ) -> None:
        try:
            await asyncio.shield(
                self._events.record(
                    request_id=request_id,
                    account_id=principal.account_id,
                    key_id=principal.key_id,
                    action=action,
                    stage=stage,
                    category=category,
                    code=code,
                    prompt=prompt if self._audit_prompts else None,
                )
            )
        except Exception:  # the refusal itself matters more than its audit row
            log.exception("could not record the safety %s of request %s", action, request_id)


__all__ = ["PromptScreen"]
