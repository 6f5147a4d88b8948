"""The core classes assembled as the gateway assembles them (`imagegate.wiring`), on a real database,
with scripted upstreams in place of the wire providers; and what a test reads back (money, usage)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from imagegate.config import Settings, load_settings
from imagegate.db.clock import utcnow
from imagegate.db.usage import UsageRecord
from imagegate.domain.catalog import Catalog
from imagegate.domain.circuits import BreakerPolicy
from imagegate.domain.ports import CircuitStore, ImageMarker, Provider
from imagegate.domain.principal import Principal
from imagegate.providers.http_client import UpstreamClient
from imagegate.providers.registry import read_credentials
from imagegate.routing.retry import RetryPolicy
from imagegate.routing.router import Router
from imagegate.service.authentication import KeyAuthenticator
from imagegate.service.images.admission import Admission
from imagegate.service.images.billing import Billing
from imagegate.service.images.generation import ImageService
from imagegate.service.images.rate_limits import Limiter
from imagegate.service.images.settlement import Settlement
from imagegate.service.jobs.events import JobEvents
from imagegate.service.jobs.jobs import JobParts, Jobs, JobTerms
from imagegate.service.jobs.records import JobUploads
from imagegate.service.jobs.workers import JobWorkers
from imagegate.service.operator.admin import AdminService
from imagegate.state.circuits_memory import MemoryCircuitStore
from imagegate.state.limiter_memory import MemoryLimiterState
from imagegate.storage.filesystem import FilesystemBlobStore
from imagegate.storage.signing import UrlSigner
from imagegate.wiring import Database, admin_service, image_pipeline, open_database, prompt_screen

from .scripted import scripted_registry

MODEL = "core-test"
"""The test model (CATALOG below): three scripted routes, tried in the order listed."""

LOW_64, LOW_128 = 10_000, 30_000
HIGH_64, HIGH_128 = 40_000, 120_000
"""Its prices in micro-USD per delivered image: `auto` is held at `high` and captured at what the
upstream reports using."""

CATALOG = f"""
[models.{MODEL}]
vendor = "Test"
display_name = "Core test model"
sizes = ["64x64", "128x128"]
default_size = "64x64"
max_n = 4
qualities = ["low", "high", "auto"]
default_quality = "low"
auto_quality_price = "high"
max_prompt_chars = 1000

[models.{MODEL}.upscaled_from]
"128x128" = "64x64"

[models.{MODEL}.prices.low]
"64x64" = {LOW_64}
"128x128" = {LOW_128}

[models.{MODEL}.prices.high]
"64x64" = {HIGH_64}
"128x128" = {HIGH_128}

[[models.{MODEL}.routes]]
name = "primary"
provider = "scripted"
credentials = "none"
upstream_model = "core-1"

[[models.{MODEL}.routes]]
name = "secondary"
provider = "scripted"
credentials = "none"
upstream_model = "core-1"

[[models.{MODEL}.routes]]
name = "pngonly"
provider = "scripted"
credentials = "none"
upstream_model = "core-1"
native_formats = ["png"]
native_compression = false
"""

FAST_RETRIES = RetryPolicy(attempts=3, base_seconds=0.001, max_seconds=0.01)
NEVER_OPENS = BreakerPolicy(failures=1_000_000)


def write_config(folder: Path) -> Path:
    path = folder / "catalog-core.toml"
    path.write_text(CATALOG, "utf-8")
    return path


def core_settings(data_dir: Path, config: Path, database_url: str | None = None) -> Settings:
    """Settings as an operator's environment gives them (nothing read from this machine's)."""
    env = {
        "IMAGEGATE_DATA_DIR": str(data_dir),
        "IMAGEGATE_CONFIG": str(config),
        "IMAGEGATE_SIGNING_SECRET": "core-test-secret",
        "IMAGEGATE_RETRY_ATTEMPTS": str(FAST_RETRIES.attempts),
        "IMAGEGATE_RETRY_BASE_SECONDS": str(FAST_RETRIES.base_seconds),
        "IMAGEGATE_RETRY_MAX_SECONDS": str(FAST_RETRIES.max_seconds),
        "IMAGEGATE_UPSTREAM_TIMEOUT_SECONDS": "5",
        "IMAGEGATE_REQUEST_DEADLINE_SECONDS": "30",
    }
    if database_url:
        env["IMAGEGATE_DATABASE_URL"] = database_url
    return load_settings(env)


def build_router(
    catalog: Catalog,
    upstreams: Mapping[str, Provider],
    client: UpstreamClient,
    *,
    circuits: CircuitStore | None = None,
    policy: RetryPolicy = FAST_RETRIES,
    deadline_seconds: float = 30.0,
    marker: ImageMarker | None = None,
) -> Router:
    """The real Router over the real wrappers; only the wire providers are the scripted ones."""
    registry = scripted_registry(upstreams)
    return Router(
        catalog,
        read_credentials(registry, {}),
        registry,
        client,
        policy=policy,
        attempt_timeout=5.0,
        deadline_seconds=deadline_seconds,
        circuits=circuits or MemoryCircuitStore(NEVER_OPENS),
        rng=random.Random(7),
        marker=marker,
    )


@dataclass(frozen=True, slots=True)
class Money:
    balance: int
    held: int


@dataclass
class Core:
    settings: Settings
    db: Database
    admin: AdminService
    client: UpstreamClient
    stack: AsyncExitStack

    async def principal(
        self,
        usd: str = "1",
        *,
        test: bool = False,
        models: list[str] | None = None,
        max_in_flight: int | None = None,
        block_terms: list[str] | None = None,
    ) -> Principal:
        """A new funded account and key, resolved from the key as the gateway resolves it."""
        account = await self.admin.accounts.create("core")
        if usd != "0":
            await self.admin.ledger.add_credit(account["id"], usd, "funding")
        if block_terms is not None:
            await self.admin.accounts.set_safety(account["id"], block_terms=block_terms, block_categories=[])
        if max_in_flight is not None:
            await self.admin.accounts.set_limits(account["id"], rpm=None, ipm=None, max_in_flight=max_in_flight)
        key = await self.admin.keys.create(account["id"], test=test, models=models, rpm=None)
        return await KeyAuthenticator(self.db.accounts).principal_for(key["key"])

    async def money(self, principal: Principal) -> Money:
        account = await self.db.accounts.get_account(principal.account_id)
        assert account is not None
        return Money(account.balance_micros, account.held_micros)

    async def usage(self, principal: Principal) -> list[UsageRecord]:
        """The account's usage records, oldest first."""
        now = utcnow()
        records, _ = await self.db.usage.query(
            now - timedelta(hours=1), now + timedelta(minutes=1), principal.account_id
        )
        return sorted(records, key=lambda r: r.created_at)

    async def assert_ledger_consistent(self) -> None:
        checked, problems = await self.db.ledger.verify()
        assert checked > 0 and problems == []

    def router(self, upstreams: Mapping[str, Provider], *, circuits: CircuitStore | None = None) -> Router:
        router = build_router(self.settings.catalog, upstreams, self.client, circuits=circuits)
        self.stack.push_async_callback(router.aclose)
        return router

    def billing_steps(self) -> tuple[Admission, Settlement]:
        """The admission and settlement steps on one Billing, built as `wiring.image_pipeline` builds
        them (in-process limiter state, the shipped screening policy)."""
        settings, db = self.settings, self.db
        billing = Billing(db.ledger, db.accounts, settings.node.hold_ttl_seconds)
        screen = prompt_screen(settings, db.safety_events, self.client)
        limiter_state = MemoryLimiterState()
        self.stack.push_async_callback(limiter_state.aclose)
        limiter = Limiter(
            limiter_state, fail_open=False, in_flight_ttl_seconds=settings.upstream.request_deadline_seconds + 60
        )
        admission = Admission(
            billing, db.prices, db.idempotency, settings.upstream.request_deadline_seconds, limiter, screen
        )
        return admission, Settlement(billing, db.usage, db.idempotency, screen)

    def image_service(self, router: Router) -> ImageService:
        """Assembled by `wiring.image_pipeline`, exactly as a serving node assembles it."""
        store = FilesystemBlobStore(
            self.settings.node.data_dir / "images",
            UrlSigner(self.settings.storage.signing_secret),
            self.settings.node.base_url(),
        )
        limiter_state = MemoryLimiterState()
        self.stack.push_async_callback(limiter_state.aclose)
        return image_pipeline(self.settings, self.db, router, store, limiter_state, self.client)[0]

    def jobs(self, router: Router, events: JobEvents, terms: JobTerms) -> tuple[Jobs, JobWorkers]:
        """The async jobs service and its workers on the image pipeline, assembled as `wiring.open_gateway` does."""
        store = FilesystemBlobStore(
            self.settings.node.data_dir / "images",
            UrlSigner(self.settings.storage.signing_secret),
            self.settings.node.base_url(),
        )
        limiter_state = MemoryLimiterState()
        self.stack.push_async_callback(limiter_state.aclose)
        images, settlement = image_pipeline(self.settings, self.db, router, store, limiter_state, self.client)
        parts = JobParts(self.db.jobs, images, settlement, JobUploads(store), terms)
        workers = JobWorkers(parts, events)
        return Jobs(parts, wake=workers.wake), workers


@asynccontextmanager
async def open_core(settings: Settings) -> AsyncIterator[Core]:
    async with AsyncExitStack() as stack:
        db = await stack.enter_async_context(open_database(settings, request_path=True))
        client = UpstreamClient()
        stack.push_async_callback(client.aclose)
        yield Core(settings, db, admin_service(settings, db), client, stack)


def run_core(settings: Settings, scenario: Callable[[Core], Awaitable[None]]) -> None:
    async def go() -> None:
        async with open_core(settings) as core:
            await scenario(core)

    asyncio.run(go())


__all__ = [
    "CATALOG",
    "FAST_RETRIES",
    "HIGH_64",
    "HIGH_128",
    "LOW_64",
    "LOW_128",
    "MODEL",
    "NEVER_OPENS",
    "Core",
    "Money",
    "build_router",
    "core_settings",
    "open_core",
    "run_core",
    "write_config",
]
