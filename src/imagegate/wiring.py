"""The one place the gateway is assembled from its settings, for the ASGI app and the CLI alike.

`open_gateway` builds everything a serving node owns (database, upstream client, router, stores,
services) and closes it all on exit; `open_admin` builds only what operator commands need.
Adding a part is one line here; nothing else constructs adapters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from . import __version__
from .config import HOLD_MARGIN_SECONDS, SETTINGS, Settings
from .config.setting import Setting
from .db.accounts import AccountsRepo
from .db.admin_sessions import AdminSessionsRepo
from .db.batches import BatchesRepo
from .db.budget_settings import BudgetsRepo
from .db.engine import create_engine, migrate, probe_engine
from .db.idempotency import IdempotencyRepo
from .db.images import ImagesRepo
from .db.jobs import JobsRepo
from .db.ledger import LedgerRepo
from .db.ledger_history import LedgerHistoryRepo
from .db.margin import MarginRepo
from .db.prices import PricesRepo
from .db.responses import ResponsesRepo
from .db.runner import EngineRunner, Runner, runner_for
from .db.runs import RunsRepo
from .db.safety import AccountPolicyRepo, SafetyEventsRepo
from .db.samples import SamplesRepo
from .db.upstream_costs import UpstreamCostsRepo
from .db.usage import UsageRepo
from .db.usage_stats import UsageStatsRepo
from .db.wakeups import PostgresWakeups
from .db.webhooks import WebhooksRepo
from .domain.circuits import BreakerPolicy
from .domain.meter import NULL_METER, Meter
from .domain.ports import (
    BlobStore,
    CircuitHealthSource,
    CircuitStore,
    ImageClassifier,
    ImageMarker,
    LimiterState,
    Moderator,
    WebhookTransport,
)
from .domain.wakeups import LocalWakeups, Wakeups
from .imaging import pixels
from .observability.metrics import PrometheusMeter
from .provenance.c2pa_marker import C2paMarker
from .provenance.credentials import CredentialsError, load_credentials
from .providers.http_client import UpstreamClient
from .providers.image_url_reader import ImageUrlFetcher
from .providers.local_classifier import VIEW_SIDE, LocalDetector
from .providers.moderation import IMAGE_SIDE, OpenAIImageModeration, OpenAIModeration
from .providers.registry import credential_settings, default_registry, read_credentials
from .providers.webhook_sender import WebhookSender
from .routing.retry import RetryPolicy
from .routing.router import Router
from .service.authentication import KeyAuthenticator
from .service.batches.batches import Batches
from .service.batches.events import BatchJobEvents
from .service.batches.files import BatchFiles
from .service.batches.runner import BatchRunner
from .service.images.admission import Admission
from .service.images.billing import Billing
from .service.images.delivery import Delivery
from .service.images.files import ImageFiles
from .service.images.generation import ImageService
from .service.images.inputs import ImageInputs
from .service.images.library import ImageLibrary
from .service.images.output_screening import OutputScreen
from .service.images.rate_limits import Limiter
from .service.images.retention import Retention
from .service.images.screening import PromptScreen
from .service.images.settlement import Settlement
from .service.images.thumbnails import Thumbnails
from .service.images.upstream_costs import CostSheets
from .service.jobs.jobs import JobParts, Jobs, JobTerms
from .service.jobs.records import JobUploads
from .service.jobs.workers import JobWorkers
from .service.operator.accounts import AccountsAdmin
from .service.operator.admin import AdminService
from .service.operator.auth import AdminAuthLimits, AdminSessionKeys, AdminTokenGuard
from .service.operator.budgets import BudgetsAdmin
from .service.operator.doctor import Reach
from .service.operator.keys import KeysAdmin
from .service.operator.ledger import LedgerAdmin
from .service.operator.margin import MarginReport
from .service.operator.prices import PricesAdmin
from .service.operator.reports import ReportsAdmin
from .service.operator.route_health import RouteHealth, run_dir
from .service.operator.samples import Samples
from .service.operator.sessions import AdminSessionRevocations
from .service.operator.webhooks import WebhooksAdmin
from .service.recovery import NodeRecovery, ThisRun
from .service.responses.stored import StoredResponses
from .service.views.account import AccountView
from .service.views.catalog import CatalogView
from .service.webhooks.alerts import BudgetAlerts
from .service.webhooks.delivery import DeliveryPolicy, WebhookDelivery
from .service.webhooks.endpoints import WebhookEndpoints
from .service.webhooks.webhooks import Webhooks
from .state.circuits_memory import MemoryCircuitStore, PublishedCircuits
from .state.circuits_redis import RedisCircuitStore
from .state.limiter_memory import MemoryLimiterState
from .state.limiter_redis import RedisLimiterState
from .storage.factory import build_store
from .storage.signing import UrlSigner
from .storage.urls import GatewayUrls


def all_settings() -> tuple[Setting, ...]:
    """Every environment variable the gateway reads: its own, then each provider's credentials."""
    return SETTINGS + credential_settings(default_registry())


def configured_secrets(settings: Settings) -> list[str]:
    """Every credential the gateway was configured with: what the log redaction masks."""
    found = [settings.admin.token, settings.screening.moderation_api_key]
    found += [c.api_key for c in read_credentials(default_registry(), settings.env).values()]
    found += [route.api_key for model in settings.catalog for route in model.routes]
    found.append(settings.storage.signing_secret.decode("utf-8", "replace"))
    return [s for s in found if s]


@dataclass(frozen=True)
class Database:
    """The engine and the repositories on it."""

    engine: AsyncEngine
    runner: Runner
    accounts: AccountsRepo
    ledger: LedgerRepo
    prices: PricesRepo
    usage: UsageRepo
    idempotency: IdempotencyRepo
    safety_events: SafetyEventsRepo
    account_policies: AccountPolicyRepo
    images: ImagesRepo
    stats: UsageStatsRepo
    webhooks: WebhooksRepo
    jobs: JobsRepo
    responses: ResponsesRepo
    admin_sessions: AdminSessionsRepo
    samples: SamplesRepo
    budgets: BudgetsRepo
    batches: BatchesRepo


@dataclass(frozen=True)
class Gateway:
    """What a serving node's HTTP layer calls: its services, and the few values its pages and
    endpoints show or bound by (never the whole settings)."""

    images: ImageService
    catalog: CatalogView
    account: AccountView
    admin: AdminService
    admin_auth: AdminTokenGuard
    """Checks the admin token (login form, admin API) under the limits on wrong guesses."""
    admin_sessions: AdminSessionRevocations
    route_health: RouteHealth
    authenticator: KeyAuthenticator
    files: ImageFiles
    retention: Retention
    library: ImageLibrary
    """The caller's stored images, searched by prompt (`GET /v1/images`)."""
    scrape: Callable[[], bytes] | None
    """The Prometheus text `GET /metrics` serves (None with IMAGEGATE_METRICS off: no such endpoint)."""
    recovery: NodeRecovery
    webhooks: Webhooks
    """The async jobs' `JobEvents`: a finished job's webhook is queued here."""
    webhook_delivery: WebhookDelivery
    wakeups: Wakeups
    """Wakes this node's job workers, webhook sender and batch runner when work is queued (on any node,
    on PostgreSQL); `listening`: other nodes' notices reach this one now."""
    jobs: Jobs
    job_workers: JobWorkers
    image_inputs: ImageInputs
    """Input images named by URL (chat, Responses): read under the address rules, made an operation."""
    responses: StoredResponses
    """Responses API answers kept a day (`GET /v1/responses/{id}`, `previous_response_id`)."""
    samples: Samples
    """The model pages' examples gallery (`imagegate samples`, "use as sample" in the admin pages)."""
    batch_files: BatchFiles
    """The Batch API's files (`/v1/files`, `file-…`): inputs uploaded, outputs written."""
    batches: Batches
    batch_runner: BatchRunner
    """Advances batches on every node: their lines to the job queue, their ends, their files."""
    margin: MarginReport
    """Revenue, upstream cost and margin per model and route (`/admin/v1/margin`, the admin chart)."""
    upstream_costs: CostSheets
    """The routes' live upstream cost sheets (`/admin/v1/upstream-costs`)."""
    base_url: str
    """Where clients reach this gateway (`IMAGEGATE_PUBLIC_URL`, or the address it serves)."""
    admin_session_keys: AdminSessionKeys | None
    """What the admin pages' session cookies are signed with; None while no admin token is set (admin off)."""
    stream_keepalive_seconds: float
    end_user_header: str | None
    """The request header (lower case) that names the end user, set by the operator's front end."""
    edit_max_image_bytes: int
    """The largest input image the gateway takes (a model's own limit may be lower)."""
    c2pa: bool
    """Every image handed out carries the gateway's C2PA manifest."""
    output_screening: str
    """`off`, `moderation` or `local`: what the model pages say of screened output."""

    @property
    def admin_on(self) -> bool:
        """An admin token is set: the admin API and pages answer."""
        return self.admin_session_keys is not None


@asynccontextmanager
async def open_database(
    settings: Settings, *, request_path: bool = False, run_id: str | None = None
) -> AsyncIterator[Database]:
    """The migrated database. `request_path`: repositories use the fast runner (one hand-off per unit);
    `run_id`: the serving process that the holds and idempotency claims it takes belong to."""
    async with AsyncExitStack() as stack:
        engine = create_engine(settings.database.url, settings.database.pool_size)
        stack.push_async_callback(engine.dispose)
        await migrate(engine)
        runner: Runner = runner_for(engine) if request_path else EngineRunner(engine)
        stack.push_async_callback(runner.aclose)
        yield Database(
            engine=engine,
            runner=runner,
            accounts=AccountsRepo(engine, runner),
            ledger=LedgerRepo(engine, runner, run_id=run_id),
            prices=PricesRepo(engine),
            usage=UsageRepo(engine, runner),
            idempotency=IdempotencyRepo(engine, run_id=run_id),
            safety_events=SafetyEventsRepo(engine),
            account_policies=AccountPolicyRepo(engine),
            images=ImagesRepo(engine, runner),
            stats=UsageStatsRepo(engine),
            webhooks=WebhooksRepo(engine),
            jobs=JobsRepo(engine),
            responses=ResponsesRepo(engine),
            admin_sessions=AdminSessionsRepo(engine),
            samples=SamplesRepo(engine),
            budgets=BudgetsRepo(engine, runner),
            batches=BatchesRepo(engine),
        )


def admin_service(settings: Settings, db: Database, webhook_transport: WebhookTransport | None = None) -> AdminService:
    """`webhook_transport`: what resolves a new webhook URL's host (default: a sender of its own, which
    holds no connection until it sends, and the admin service never sends)."""
    transport = webhook_transport or webhook_sender(settings)
    endpoints = WebhookEndpoints(
        db.webhooks, transport, settings.storage.signing_secret, public=settings.node.is_public()
    )
    budgets = BudgetsAdmin(db.budgets, endpoints)
    return AdminService(
        accounts=AccountsAdmin(db.accounts, db.account_policies, settings.safety_policy),
        keys=KeysAdmin(db.accounts, settings.catalog, budgets),
        ledger=LedgerAdmin(db.accounts, db.ledger, LedgerHistoryRepo(db.engine), budgets),
        prices=PricesAdmin(db.prices, settings.catalog),
        webhooks=WebhooksAdmin(endpoints, Webhooks(db.webhooks)),
        reports=ReportsAdmin(db.usage, db.stats, db.safety_events),
        budgets=budgets,
    )


def webhook_sender(settings: Settings) -> WebhookSender:
    return WebhookSender(public=settings.node.is_public(), timeout=settings.webhooks.timeout_seconds)


def webhook_delivery(
    settings: Settings, repo: WebhooksRepo, transport: WebhookTransport, wakeups: Wakeups | None = None
) -> WebhookDelivery:
    webhooks = settings.webhooks
    policy = DeliveryPolicy(
        public=settings.node.is_public(),
        retry_base_seconds=webhooks.retry_base_seconds,
        retry_max_seconds=webhooks.retry_max_seconds,
        retry_window_seconds=webhooks.retry_window_seconds,
        send_timeout_seconds=webhooks.timeout_seconds,
        poll_seconds=webhooks.poll_seconds,
    )
    return WebhookDelivery(repo, transport, settings.storage.signing_secret, policy, wakeups)


@asynccontextmanager
async def open_wakeups(engine: AsyncEngine) -> AsyncIterator[Wakeups]:
    """On PostgreSQL, LISTEN/NOTIFY: work queued on any node wakes every node's loops (`db/wakeups.py`);
    on SQLite, this process's loops only (another process on the file finds the work by polling)."""
    if engine.dialect.name != "postgresql":
        yield LocalWakeups()
        return
    wakeups = PostgresWakeups(engine.url)
    await wakeups.start()
    try:
        yield wakeups
    finally:
        await wakeups.aclose()


@asynccontextmanager
async def open_admin(settings: Settings) -> AsyncIterator[AdminService]:
    """An AdminService on its own short-lived engine (for the CLI); migrates the database first."""
    async with open_database(settings) as db:
        sender = webhook_sender(settings)  # resolves a new URL's host; sends nothing
        try:
            yield admin_service(settings, db, sender)
        finally:
            await sender.aclose()


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
async def open_doctor(settings: Settings, timeout: float) -> AsyncIterator[Reach]:
    """What `imagegate doctor` checks through: the database (nothing migrated), Redis, an upstream client."""
    async with AsyncExitStack() as stack:
        engine = probe_engine(settings.database.url)
        stack.push_async_callback(engine.dispose)
        client = UpstreamClient()
        stack.push_async_callback(client.aclose)
        redis = None
        if settings.redis.url:
            redis = Redis.from_url(settings.redis.url, socket_connect_timeout=timeout, socket_timeout=timeout)
            stack.push_async_callback(redis.aclose)
        yield Reach(engine, redis.ping if redis else None, client)


@asynccontextmanager
async def open_gateway(settings: Settings) -> AsyncIterator[Gateway]:
    """Everything a serving node owns, closed in reverse order on exit."""
    async with AsyncExitStack() as stack:
        pixels.configure(settings.images.max_pixels_in_flight)  # image work past it waits
        this_run = ThisRun.now(settings.node.node_id)  # holds and claims name it; a restart releases them
        db = await stack.enter_async_context(open_database(settings, request_path=True, run_id=this_run.run_id))
        wakeups = await stack.enter_async_context(open_wakeups(db.engine))
        prometheus = PrometheusMeter(settings.metrics_dir) if settings.logs.metrics else None
        meter = prometheus or NULL_METER
        http_client = UpstreamClient(settings.upstream.max_connections)  # every call passes its own timeout
        stack.push_async_callback(http_client.aclose)
        circuits = circuit_store(settings)
        stack.push_async_callback(circuits.aclose)
        marker = image_marker(settings)  # makes the gateway's own C2PA chain on a first start
        if marker is not None:
            stack.callback(marker.close)
        router = build_router(settings, http_client, circuits, meter, marker)
        stack.push_async_callback(router.aclose)
        limiter_state = limiter_state_for(settings)
        stack.push_async_callback(limiter_state.aclose)
        health = circuit_health(settings, circuits)
        signer = UrlSigner(settings.storage.signing_secret)
        store = build_store(settings.storage, settings.node, settings.storage_options, signer)
        stack.push_async_callback(store.aclose)
        sender = webhook_sender(settings)
        stack.push_async_callback(sender.aclose)
        fetcher = ImageUrlFetcher(public=settings.node.is_public())  # input images named by https URL
        stack.push_async_callback(fetcher.aclose)
        delivery = webhook_delivery(settings, db.webhooks, sender, wakeups)
        queued_message = partial(wakeups.notify, "webhooks")
        webhooks = Webhooks(db.webhooks, wake=queued_message)  # the jobs' `JobEvents`
        costs = CostSheets(settings.catalog, UpstreamCostsRepo(db.engine))
        # thumbnails are made on their first view, always through the gateway's own signed URLs
        gateway_urls = GatewayUrls(signer, settings.node.base_url())
        thumbnails = Thumbnails(store, db.images, bucket_urls=settings.storage.url_mode == "bucket")
        images, settlement = image_pipeline(
            settings,
            db,
            router,
            store,
            limiter_state,
            http_client,
            meter,
            costs,
            wake=queued_message,
        )
        uploads, terms = JobUploads(store), job_terms(settings)
        image_inputs = ImageInputs(
            fetcher,
            settings.catalog,
            max_image_bytes=settings.images.edit_max_image_bytes,
            public=settings.node.is_public(),
        )
        batch_files = BatchFiles(db.batches, store, settings.batches.max_file_bytes, settings.batches.max_lines)
        events = BatchJobEvents(webhooks, db.batches, lambda: batch_runner.wake())  # a batch's line wakes its runner
        parts = JobParts(db.jobs, images, settlement, uploads, terms)
        workers = JobWorkers(parts, events, wakeups)
        jobs = Jobs(parts, wake=partial(wakeups.notify, "jobs"))
        batch_runner = BatchRunner(
            db.batches,
            batch_files,
            jobs,
            db.accounts,
            webhooks.batch_finished,
            image_inputs,
            concurrency=settings.batches.concurrency,
            poll_seconds=settings.jobs.poll_seconds,
            wakeups=wakeups,
        )
        routes = route_health(settings, router, health)
        yield Gateway(
            images=images,
            catalog=CatalogView(settings.catalog, db.prices, db.stats, routes.availability),
            account=AccountView(
                db.accounts,
                db.usage,
                db.stats,
                db.images,
                db.safety_events,
                store.url_for,
                settings.storage.url_ttl_seconds,
                budgets=BudgetsAdmin(db.budgets),
            ),
            admin=admin_service(settings, db, sender),
            admin_auth=admin_token_guard(settings, limiter_state),
            admin_sessions=AdminSessionRevocations(db.admin_sessions),
            route_health=routes,
            authenticator=KeyAuthenticator(db.accounts),
            files=ImageFiles(signer, store, thumbnails),
            retention=Retention(db.images, store, settings.storage.image_grace_seconds),
            library=ImageLibrary(db.images, store.url_for, gateway_urls.url_for, settings.catalog),
            scrape=prometheus.exposition if prometheus else None,
            recovery=NodeRecovery(RunsRepo(db.engine, db.runner), this_run),
            webhooks=webhooks,
            webhook_delivery=delivery,
            wakeups=wakeups,
            jobs=jobs,
            job_workers=workers,
            image_inputs=image_inputs,
            responses=StoredResponses(db.responses, store),
            samples=Samples(settings.catalog, db.samples, store),
            batch_files=batch_files,
            batches=Batches(
                db.batches, batch_files, settings.catalog, db.prices, db.accounts, partial(wakeups.notify, "batches")
            ),
            batch_runner=batch_runner,
            margin=MarginReport(MarginRepo(db.engine)),
            upstream_costs=costs,
            base_url=settings.node.base_url(),
            admin_session_keys=admin_session_keys(settings),
            stream_keepalive_seconds=settings.http.stream_keepalive_seconds,
            end_user_header=settings.http.end_user_header,
            edit_max_image_bytes=settings.images.edit_max_image_bytes,
            c2pa=settings.provenance.c2pa,
            output_screening=settings.screening.output,
        )


@asynccontextmanager
async def open_margin(settings: Settings) -> AsyncIterator[MarginReport]:
    """The margin report for the CLI (`imagegate margin`), on its own short-lived engine."""
    async with open_database(settings) as db:
        yield MarginReport(MarginRepo(db.engine))


@asynccontextmanager
async def open_costs(settings: Settings) -> AsyncIterator[CostSheets]:
    """The live upstream cost sheets for the CLI (`imagegate costs`), on its own short-lived engine."""
    async with open_database(settings) as db:
        yield CostSheets(settings.catalog, UpstreamCostsRepo(db.engine))


@asynccontextmanager
async def open_samples(settings: Settings) -> AsyncIterator[Samples]:
    """The examples gallery for operator commands (`imagegate samples`): the database and the store."""
    async with open_database(settings) as db:
        store = image_store(settings)
        try:
            yield Samples(settings.catalog, db.samples, store)
        finally:
            await store.aclose()


async def check_storage(settings: Settings) -> None:
    """Raise `StorageUnavailable`, naming the bucket or folder, when the configured store cannot be used."""
    store = image_store(settings)
    try:
        await store.check()
    finally:
        await store.aclose()


def admin_session_keys(settings: Settings) -> AdminSessionKeys | None:
    token = settings.admin.token
    return None if token is None else AdminSessionKeys(settings.storage.signing_secret, token)


def image_store(settings: Settings) -> BlobStore:
    """The image store of operator commands (the serving node's signs with its `UrlSigner` too)."""
    return build_store(
        settings.storage, settings.node, settings.storage_options, UrlSigner(settings.storage.signing_secret)
    )


def job_terms(settings: Settings) -> JobTerms:
    jobs = settings.jobs
    return JobTerms(
        workers=jobs.workers,
        poll_seconds=jobs.poll_seconds,
        queue_ttl_seconds=jobs.queue_ttl_seconds,
        lease_seconds=settings.upstream.request_deadline_seconds + HOLD_MARGIN_SECONDS,
    )


def image_pipeline(
    settings: Settings,
    db: Database,
    router: Router,
    store: BlobStore,
    limiter_state: LimiterState,
    http_client: UpstreamClient,
    meter: Meter = NULL_METER,
    costs: CostSheets | None = None,
    *,
    wake: Callable[[], None] | None = None,
) -> tuple[ImageService, Settlement]:
    """The image service and its settlement step (async jobs settle through it too); `costs`: the
    node's live upstream cost sheets, shared with the admin API so a change applies at once here;
    `wake`: the webhook delivery's, told when an alert is queued."""
    alerts = BudgetAlerts(db.budgets, db.webhooks, wake)
    deadline = settings.upstream.request_deadline_seconds
    billing = Billing(db.ledger, db.accounts, settings.node.hold_ttl_seconds, meter, alerts)
    screen = prompt_screen(settings, db.safety_events, http_client, meter)
    limiter = Limiter(
        limiter_state,
        fail_open=settings.redis.fail_open,
        in_flight_ttl_seconds=deadline + 60,
    )
    costs = costs or CostSheets(settings.catalog, UpstreamCostsRepo(db.engine))
    settlement = Settlement(billing, db.usage, db.idempotency, screen, meter, costs)
    service = ImageService(
        settings.catalog,
        router,
        Admission(billing, db.prices, db.idempotency, deadline, limiter, screen),
        Delivery(
            store,
            settings.storage.url_ttl_seconds,
            db.images,
            keep_prompts=settings.images.library_prompts,
        ),
        settlement,
        edit_max_image_bytes=settings.images.edit_max_image_bytes,
        output_screen=output_screen(settings, http_client, screen),
    )
    return service, settlement


def image_marker(settings: Settings) -> C2paMarker | None:
    """What signs every image's C2PA manifest (None with IMAGEGATE_C2PA=off): the operator's
    certificate and key, or the gateway's own chain (made in the data dir when there is none yet),
    proved by signing a sample. Raises `CredentialsError`, saying what and where, when they cannot sign."""
    provenance = settings.provenance
    if not provenance.c2pa:
        return None
    credentials = load_credentials(provenance.cert, provenance.key, settings.node.data_dir)
    marker = C2paMarker(credentials, __version__)
    try:
        failures = marker.check()
    except BaseException:
        marker.close()
        raise
    if failures:
        marker.close()
        raise CredentialsError(f"C2PA manifests signed with {credentials.where} do not validate: {'; '.join(failures)}")
    return marker


def check_provenance(settings: Settings) -> str:
    """Who signs the images' C2PA manifests, in words. Raises `CredentialsError` (a `ValueError`) when
    the credentials cannot sign, so a node refuses to start; on a first start, makes the gateway's own
    chain before any worker process reads it."""
    marker = image_marker(settings)
    if marker is None:
        return "nobody: IMAGEGATE_C2PA=off, images leave unmarked"
    marker.close()
    credentials = marker.credentials
    if credentials.own:
        return f"the gateway's own chain ({credentials.where}; its CA is on no trust list)"
    return f"{credentials.subject}, issued by {credentials.issuer} ({credentials.where})"


def build_router(
    settings: Settings,
    client: UpstreamClient,
    circuits: CircuitStore,
    meter: Meter = NULL_METER,
    marker: ImageMarker | None = None,
) -> Router:
    registry = default_registry()
    upstream = settings.upstream
    return Router(
        settings.catalog,
        read_credentials(registry, settings.env),
        registry,
        client,
        policy=RetryPolicy(upstream.retry_attempts, upstream.retry_base_seconds, upstream.retry_max_seconds),
        attempt_timeout=upstream.timeout_seconds,
        deadline_seconds=upstream.request_deadline_seconds,
        circuits=circuits,
        screening_view_side={"local": VIEW_SIDE, "moderation": IMAGE_SIDE}.get(settings.screening.output),
        marker=marker,
        meter=meter,
    )


def breaker_policy(settings: Settings) -> BreakerPolicy:
    upstream = settings.upstream
    return BreakerPolicy(failures=upstream.breaker_failures, cooldown_seconds=upstream.breaker_cooldown_seconds)


def circuit_store(settings: Settings) -> CircuitStore:
    """Redis when IMAGEGATE_REDIS_URL is set (shared by every node), else this process's memory."""
    redis = settings.redis
    if redis.url:
        return RedisCircuitStore(redis.url, breaker_policy(settings), redis.prefix)
    return MemoryCircuitStore(breaker_policy(settings), run_dir(settings.node.data_dir))


def circuit_health(settings: Settings, serving: CircuitStore | None) -> CircuitHealthSource:
    """Where the route report reads health: the shared Redis store (the node's own, when it has
    one), else what every local process published."""
    redis = settings.redis
    if redis.url:
        return serving or RedisCircuitStore(redis.url, breaker_policy(settings), redis.prefix)
    return PublishedCircuits(run_dir(settings.node.data_dir), breaker_policy(settings))


def route_health(settings: Settings, router: Router, health: CircuitHealthSource) -> RouteHealth:
    return RouteHealth(
        settings.catalog,
        router,
        health,
        shared=settings.redis.url is not None,
        default_timeout=settings.upstream.timeout_seconds,
    )


def limiter_state_for(settings: Settings) -> LimiterState:
    if settings.redis.url:
        return RedisLimiterState(settings.redis.url, f"{settings.redis.prefix}:")
    return MemoryLimiterState()


def admin_token_guard(settings: Settings, state: LimiterState) -> AdminTokenGuard:
    admin = settings.admin
    limits = AdminAuthLimits(admin.auth_failures, admin.auth_failures_all, admin.auth_window_seconds)
    return AdminTokenGuard(admin.token, state, limits, fail_open=settings.redis.fail_open)


def check_output_screening(settings: Settings) -> None:
    """Refuse to start (`RuntimeError`, naming the pip line) when `local` output screening lacks its extra."""
    if settings.screening.output == "local":
        LocalDetector.require()


def output_screen(settings: Settings, client: UpstreamClient, audit: PromptScreen | None) -> OutputScreen | None:
    """The screen of delivered images (`IMAGEGATE_OUTPUT_SCREENING`), judged by the safety policy's `[output]`."""
    screening = settings.screening
    if screening.output == "off" or settings.safety_policy is None:
        return None
    classifier: ImageClassifier
    if screening.output == "local":
        classifier = LocalDetector.load()
    else:
        assert screening.moderation_url is not None  # load_settings refuses the mode without it
        classifier = OpenAIImageModeration(
            client,
            screening.moderation_url,
            screening.moderation_api_key,
            screening.moderation_model,
            screening.moderation_timeout_seconds,
        )
    return OutputScreen(settings.safety_policy.output, classifier, audit, fail_open=screening.moderation_fail_open)


def prompt_screen(
    settings: Settings, events: SafetyEventsRepo, client: UpstreamClient, meter: Meter = NULL_METER
) -> PromptScreen | None:
    screening = settings.screening
    if settings.safety_policy is None:
        return None
    moderator: Moderator | None = None
    if screening.moderation_url:
        moderator = OpenAIModeration(
            client,
            screening.moderation_url,
            screening.moderation_api_key,
            screening.moderation_model,
            screening.moderation_timeout_seconds,
        )
    return PromptScreen(
        settings.safety_policy,
        events,
        moderator=moderator,
        moderation_fail_open=settings.screening.moderation_fail_open,
        audit_prompts=settings.screening.audit_prompts,
        meter=meter,
    )


__all__ = [
    "Database",
    "Gateway",
    "all_settings",
    "check_output_screening",
    "check_storage",
    "configured_secrets",
    "open_admin",
    "open_database",
    "open_doctor",
    "open_gateway",
    "open_route_health",
    "webhook_delivery",
    "webhook_sender",
]
