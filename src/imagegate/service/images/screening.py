"""Step 4 of a request: the prompt against the safety policy, then the optional moderation stage.

Also the audit log: every block (ours or the upstream's) and every flag is recorded here.
"""

from __future__ import annotations

import asyncio
import logging

from ...db.safety import SafetyEventsRepo
from ...domain.errors import ContentBlocked
from ...domain.ports import ModerationUnavailable, Moderator
from ...domain.principal import Principal
from ...domain.request import ImageRequest
from ...domain.safety_policy import AccountSafety, SafetyPolicy
from ..degraded import serve_without_or_refuse

log = logging.getLogger("imagegate.safety")

GATEWAY = "gateway"
_POLICY_CACHE_SIZE = 1024


class PromptScreen:
    def __init__(
        self,
        policy: SafetyPolicy,
        events: SafetyEventsRepo,
        *,
        moderator: Moderator | None = None,
        moderation_fail_open: bool = True,
        audit_prompts: bool = False,
    ) -> None:
        self._policy = policy
        self._events = events
        self._moderator = moderator
        self._moderation_fail_open = moderation_fail_open
        self._audit_prompts = audit_prompts
        self._stricter: dict[AccountSafety, SafetyPolicy] = {}

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
        if extra.empty:
            return self._policy
        policy = self._stricter.get(extra)
        if policy is None:
            if len(self._stricter) >= _POLICY_CACHE_SIZE:
                self._stricter.clear()
            policy = self._stricter[extra] = self._policy.stricter(extra)
        return policy

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
