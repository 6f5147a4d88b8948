"""The one place the gateway is assembled from its settings, for the ASGI app and the CLI alike.

`open_gateway` builds everything a serving node owns (database, upstream client, router, stores,
services) and closes it all on exit; `open_admin` builds only what operator commands need.
Adding a part is one line here; nothing else constructs adapters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from .config import SETTINGS, Settings
from .db.accounts import AccountsRepo
from .db.engine import create_engine, migrate
from .db.idempotency import IdempotencyRepo
from .db.ledger import LedgerRepo
from .db.prices import PricesRepo
from .db.runner import Runner, runner_for
from .db.safety import AccountPolicyRepo, SafetyEventsRepo
from .db.usage import UsageRepo
from .domain.circuits import BreakerPolicy
from .domain.ports import BlobStore, CircuitHealthSource, CircuitStore, LimiterState, Moderator
from .providers.http_client import UpstreamClient
from .providers.moderation import OpenAIModeration
from .providers.registry import credential_settings, default_registry, read_credentials
from .routing.retry import RetryPolicy
from .routing.router import Router
from .service.account import AccountService
from .service.admin import AdminService
from .service.admission import Admission
from .service.authentication import KeyAuthenticator
from .service.billing import Billing
from .service.catalog import CatalogService
from .service.delivery import Delivery
from .service.generation import ImageService
from .service.rate_limits import Limiter
from .service.route_health import RouteHealth, run_dir
from .service.screening import PromptScreen
from .service.settlement import Settlement
from .setting import Setting
from .state.circuits_memory import MemoryCircuitStore, PublishedCircuits
from .state.circuits_redis import RedisCircuitStore
from .state.limiter_memory import MemoryLimiterState
from .state.limiter_redis import RedisLimiterState
from .storage.filesystem import FilesystemBlobStore
from .storage.signing import UrlSigner


def all_settings() -> tuple[Setting, ...]:
    """Every environment variable the gateway reads: its own, then each provider's credentials."""
    return SETTINGS + credential_settings(default_registry())


@dataclass(frozen=True)
class Database:
    """The engine and the repositories on it."""

    engine: AsyncEngine
    accounts: AccountsRepo
    ledger: LedgerRepo
    prices: PricesRepo
    usage: UsageRepo
    idempotency: IdempotencyRepo
    safety_events: SafetyEventsRepo
    account_policies: AccountPolicyRepo


@dataclass(frozen=True)
class Gateway:
    """What a serving node's HTTP layer calls: services, plus the URL signer and blob store."""

    settings: Settings
    images: ImageService
    catalog: CatalogService
    account: AccountService
    admin: AdminService
    route_health: RouteHealth
    authenticator: KeyAuthenticator
    signer: UrlSigner
    store: FilesystemBlobStore


@asynccontextmanager
async def open_database(settings: Settings, *, request_path: bool = False) -> AsyncIterator[Database]:
    """The migrated database. `request_path`: repositories use the fast runner (one hand-off per unit)."""
    async with AsyncExitStack() as stack:
        engine = create_engine(settings.database_url)
        stack.push_async_callback(engine.dispose)
        await migrate(engine)
        runner: Runner | None = None
        if request_path:
            runner = runner_for(engine)
            stack.push_async_callback(runner.aclose)
        yield Database(
            engine=engine,
            accounts=AccountsRepo(engine, runner),
            ledger=LedgerRepo(engine, runner),
            prices=PricesRepo(engine),
            usage=UsageRepo(engine, runner),
            idempotency=IdempotencyRepo(engine),
            safety_events=SafetyEventsRepo(engine),
            account_policies=AccountPolicyRepo(engine),
        )


def admin_service(settings: Settings, db: Database) -> AdminService:
    return AdminService(
        db.accounts,
        db.ledger,
        db.prices,
        db.usage,
        settings.catalog,
        events=db.safety_events,
        policies=db.account_policies,
        safety_policy=settings.safety_policy,
    )


@asynccontextmanager
async def open_admin(settings: Settings) -> AsyncIterator[AdminService]:
    """An AdminService on its own short-lived engine (for the CLI); migrates the database first."""
    async with open_database(settings) as db:
        yield admin_service(settings, db)


@asynccontextmanager
async def open_route_health(settings: Settings) -> AsyncIterator[RouteHealth]:
    """The route report as the CLI reads it: what the serving processes recorded."""
    async with AsyncExitStack() as stack:
        client = UpstreamClient()  # the providers only keep it; nothing is sent, no session is opened
        stack.push_async_callback(client.aclose)
        circuits = MemoryCircuitStore(breaker_policy(settings))  # never called: the router only answers "configured?"
        router = build_router(settings, client, circuits)
        stack.push_async_callback(router.aclose)
        health = circuit_health(settings, None)
        stack.push_async_callback(health.aclose)
        yield route_health(settings, router, health)


@asynccontextmanager
async def open_gateway(settings: Settings) -> AsyncIterator[Gateway]:
    """Everything a serving node owns, closed in reverse order on exit."""
    async with AsyncExitStack() as stack:
        db = await stack.enter_async_context(open_database(settings, request_path=True))
        http_client = UpstreamClient(settings.upstream_max_connections)  # every call passes its own timeout
        stack.push_async_callback(http_client.aclose)
        circuits = circuit_store(settings)
        stack.push_async_callback(circuits.aclose)
        router = build_router(settings, http_client, circuits)
        stack.push_async_callback(router.aclose)
        limiter_state = limiter_state_for(settings)
        stack.push_async_callback(limiter_state.aclose)
        health = circuit_health(settings, circuits)
        signer = UrlSigner(settings.signing_secret)
        store = FilesystemBlobStore(settings.data_dir / "images", signer, settings.base_url())
        yield Gateway(
            settings=settings,
            images=image_service(settings, db, router, store, limiter_state, http_client),
            catalog=CatalogService(settings.catalog, db.prices),
            account=AccountService(db.accounts, db.usage),
            admin=admin_service(settings, db),
            route_health=route_health(settings, router, health),
            authenticator=KeyAuthenticator(db.accounts),
            signer=signer,
            store=store,
        )


def image_service(
    settings: Settings,
    db: Database,
    router: Router,
    store: BlobStore,
    limiter_state: LimiterState,
    http_client: UpstreamClient,
) -> ImageService:
    billing = Billing(db.ledger, db.accounts, settings.hold_ttl_seconds)
    screen = prompt_screen(settings, db.safety_events, http_client)
    limiter = Limiter(
        limiter_state,
        fail_open=settings.rate_limit_fail_open,
        in_flight_ttl_seconds=settings.request_deadline_seconds + 60,
    )
    return ImageService(
        settings.catalog,
        router,
        Admission(billing, db.prices, db.idempotency, settings.request_deadline_seconds, limiter, screen),
        Delivery(store, settings.url_ttl_seconds),
        Settlement(billing, db.usage, db.idempotency, screen),
        edit_max_image_bytes=settings.edit_max_image_bytes,
    )


def build_router(settings: Settings, client: UpstreamClient, circuits: CircuitStore) -> Router:
    registry = default_registry()
    return Router(
        settings.catalog,
        read_credentials(registry, settings.env),
        registry,
        client,
        policy=RetryPolicy(settings.retry_attempts, settings.retry_base_seconds, settings.retry_max_seconds),
        attempt_timeout=settings.upstream_timeout_seconds,
        deadline_seconds=settings.request_deadline_seconds,
        circuits=circuits,
    )


def breaker_policy(settings: Settings) -> BreakerPolicy:
    return BreakerPolicy(failures=settings.breaker_failures, cooldown_seconds=settings.breaker_cooldown_seconds)


def circuit_store(settings: Settings) -> CircuitStore:
    """Redis when IMAGEGATE_REDIS_URL is set (shared by every node), else this process's memory."""
    if settings.redis_url:
        return RedisCircuitStore(settings.redis_url, breaker_policy(settings), settings.redis_prefix)
    return MemoryCircuitStore(breaker_policy(settings), run_dir(settings.data_dir))


def circuit_health(settings: Settings, serving: CircuitStore | None) -> CircuitHealthSource:
    """Where the route report reads health: the shared Redis store (the node's own, when it has
    one), else what every local process published."""
    if settings.redis_url:
        return serving or RedisCircuitStore(settings.redis_url, breaker_policy(settings), settings.redis_prefix)
    return PublishedCircuits(run_dir(settings.data_dir), breaker_policy(settings))


def route_health(settings: Settings, router: Router, health: CircuitHealthSource) -> RouteHealth:
    return RouteHealth(
        settings.catalog,
        router,
        health,
        shared=settings.redis_url is not None,
        default_timeout=settings.upstream_timeout_seconds,
    )


def limiter_state_for(settings: Settings) -> LimiterState:
    return RedisLimiterState(settings.redis_url) if settings.redis_url else MemoryLimiterState()


def prompt_screen(settings: Settings, events: SafetyEventsRepo, client: UpstreamClient) -> PromptScreen | None:
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


__all__ = ["Database", "all_settings", "Gateway", "open_admin", "open_database", "open_gateway", "open_route_health"]
