"""Everything a running gateway owns, built once in the lifespan and kept on `app.state`."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from ..billing import Billing
from .. import pixels
from ..config import Settings
from ..db.accounts import AccountsRepo
from ..db.engine import create_engine, migrate
from ..db.idempotency import IdempotencyRepo
from ..db.ledger import LedgerRepo
from ..db.prices import PricesRepo
from ..db.runner import Runner, runner_for
from ..db.runs import RunsRepo
from ..db.safety import AccountPolicyRepo, SafetyEventsRepo
from ..db.usage import UsageRepo
from ..domain.catalog import Catalog
from ..domain.ports import CircuitStore
from ..domain.ports import LimiterState, Moderator
from ..providers.http_client import UpstreamClient
from ..providers.moderation import OpenAIModeration
from ..providers.registry import default_registry
from ..routing.retry import RetryPolicy
from ..routing.router import Router
from ..service.admin import AdminService
from ..service.generation import ImageService
from ..service.routes import circuit_store
from ..service.limits import Limiter
from ..service.recovery import NodeRecovery, ThisRun
from ..service.screening import PromptScreen
from ..state.memory import MemoryLimiterState
from ..state.redis import RedisLimiterState
from ..storage.filesystem import FilesystemBlobStore
from ..storage.signing import UrlSigner
from .auth import Authenticator


@dataclass
class Components:
    settings: Settings
    catalog: Catalog
    engine: AsyncEngine
    runner: Runner
    http_client: UpstreamClient
    accounts: AccountsRepo
    prices: PricesRepo
    ledger: LedgerRepo
    usage: UsageRepo
    signer: UrlSigner
    store: FilesystemBlobStore
    router: Router
    circuits: CircuitStore
    images: ImageService
    admin: AdminService
    authenticate: Authenticator
    limiter_state: LimiterState | None = None
    recovery: NodeRecovery | None = None

    async def aclose(self) -> None:
        await self.router.aclose()
        await self.circuits.aclose()
        if self.limiter_state is not None:
            await self.limiter_state.aclose()
        await self.http_client.aclose()
        await self.runner.aclose()
        await self.engine.dispose()


async def build_components(settings: Settings) -> Components:
    pixels.configure(settings.max_pixels_in_flight)  # image work past it waits
    engine = create_engine(settings.database_url)
    await migrate(engine)
    runner = runner_for(engine)  # the request path's units of work: one hand-off each
    http_client = UpstreamClient(settings.upstream_max_connections)  # every call passes its own timeout
    accounts = AccountsRepo(engine, runner)
    prices = PricesRepo(engine)
    signer = UrlSigner(settings.signing_secret)
    store = FilesystemBlobStore(settings.data_dir / "images", signer, settings.base_url())
    circuits = circuit_store(settings)
    router = Router(
        settings.catalog,
        settings.credentials,
        default_registry(),
        http_client,
        policy=RetryPolicy(settings.retry_attempts, settings.retry_base_seconds, settings.retry_max_seconds),
        attempt_timeout=settings.upstream_timeout_seconds,
        deadline_seconds=settings.request_deadline_seconds,
        circuits=circuits,
    )
    this_run = ThisRun.now(settings.node_id)  # holds and claims name it; a restart releases them
    ledger = LedgerRepo(engine, runner, run_id=this_run.run_id)
    usage = UsageRepo(engine, runner)
    billing = Billing(ledger, accounts, settings.hold_ttl_seconds)
    limiter_state: LimiterState = (
        RedisLimiterState(settings.redis_url) if settings.redis_url else MemoryLimiterState()
    )
    events = SafetyEventsRepo(engine)
    images = ImageService(
        settings.catalog,
        router,
        store,
        billing,
        prices,
        usage,
        IdempotencyRepo(engine, run_id=this_run.run_id),
        settings.url_ttl_seconds,
        settings.request_deadline_seconds,
        limiter=Limiter(
            limiter_state,
            fail_open=settings.rate_limit_fail_open,
            in_flight_ttl_seconds=settings.request_deadline_seconds + 60,
        ),
        screen=_prompt_screen(settings, events, http_client),
    )
    return Components(
        settings=settings,
        catalog=settings.catalog,
        engine=engine,
        runner=runner,
        http_client=http_client,
        accounts=accounts,
        prices=prices,
        ledger=ledger,
        usage=usage,
        signer=signer,
        store=store,
        router=router,
        circuits=circuits,
        images=images,
        admin=AdminService(
            accounts,
            ledger,
            prices,
            usage,
            settings.catalog,
            events=events,
            policies=AccountPolicyRepo(engine),
            safety_policy=settings.safety_policy,
        ),
        authenticate=Authenticator(accounts),
        limiter_state=limiter_state,
        recovery=NodeRecovery(RunsRepo(engine, runner), this_run),
    )


def _prompt_screen(settings: Settings, events: SafetyEventsRepo, client: UpstreamClient) -> PromptScreen | None:
    if settings.safety_policy is None:
        return None
    moderator: Moderator | None = None
    if settings.moderation_url:
        moderator = OpenAIModeration(
            client,
            settings.moderation_url,
            settings.moderation_api_key,
            settings.moderation_model,
            settings.moderation_timeout_seconds,
        )
    return PromptScreen(
        settings.safety_policy,
        events,
        moderator=moderator,
        moderation_fail_open=settings.moderation_fail_open,
        audit_prompts=settings.audit_prompts,
    )


def components(request: Request) -> Components:
    return request.app.state.components  # type: ignore[no-any-return]


__all__ = ["Components", "build_components", "components"]
