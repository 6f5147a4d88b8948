"""Every setting of the gateway, each declared once, grouped in the sections the composition root
hands to the parts that use them (providers declare their own credentials, in `providers/`).

A new setting is one `setting(...)` line in the section that uses it: the loader, the README table's
test and `imagegate doctor` read it from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..domain.webhook_url import is_loopback_host
from .setting import choice_is, flag, integer, lower, number, one_of, path, seconds, setting, text

OPEN_CLOSED = ("open", "closed")


def _encoded(value: str) -> bytes:
    return value.encode()


def header_name(value: str) -> str:
    """An HTTP header's name (RFC 9110 token), lower case."""
    if re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}", value) is None:
        raise ValueError("must be an HTTP header name (letters, digits and - _ . etc.)")
    return value.lower()


def _on_off(value: str) -> bool:
    return one_of("on", "off")(value) == "on"


@dataclass(frozen=True)
class NodeSettings:
    """This node: where it keeps its files, its name, the address it serves, what it runs."""

    data_dir: Path = setting(
        "IMAGEGATE_DATA_DIR",
        "./data",
        "where the embedded database, images, the generated signing secret and C2PA chain live",
        lambda value: Path(value).resolve(),
    )
    node_id: str = setting(
        "IMAGEGATE_NODE_ID",
        None,
        "this node's name, unique among the nodes sharing a database; a restarted node releases at once what its previous run held (default: the host name)",
    )
    role: str = setting(
        "IMAGEGATE_NODE_ROLE",
        "all",
        "what `imagegate serve` runs besides the API: `all` (job workers, webhook sending, sweeps); `api`: the API "
        "alone, for API nodes beside `imagegate worker` nodes (docs/deploy.md)",
        one_of("all", "api"),
    )
    host: str = setting("IMAGEGATE_HOST", "127.0.0.1", "address `serve` binds to")
    port: int = setting("IMAGEGATE_PORT", "8000", "port `serve` listens on", integer(0, 65535))
    public_url: str | None = setting(
        "IMAGEGATE_PUBLIC_URL", None, "base of the URLs handed to clients (default `http://<host>:<port>`)"
    )
    sweep_interval_seconds: float = setting(
        "IMAGEGATE_SWEEP_INTERVAL_SECONDS", "15", "how often each node releases expired holds", number()
    )
    hold_ttl_seconds: int = setting(
        "IMAGEGATE_HOLD_TTL_SECONDS",
        None,
        "how long a hold lives if its request dies with its node (default: the request deadline plus 60 s)",
        integer(),
    )

    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def is_public(self) -> bool:
        """Whether clients reach this node from elsewhere: its public URL's host (or, without one, the
        address it binds) is not a loopback host. A public node sends webhooks only to public addresses."""
        return not is_loopback_host(urlsplit(self.base_url()).hostname)


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = setting(
        "IMAGEGATE_DATABASE_URL",
        None,
        "SQLAlchemy URL; default a SQLite file in the data dir (`postgresql+asyncpg://…` at scale)",
    )
    pool_size: int = setting(
        "IMAGEGATE_DATABASE_POOL_SIZE",
        "20",
        "PostgreSQL connections a serving process keeps (as many again when busy); nodes x workers x 2 x this must fit the server's max_connections",
        integer(1, 1000),
    )

    @property
    def embedded(self) -> bool:
        return self.url.startswith("sqlite")


@dataclass(frozen=True)
class RedisSettings:
    """Shared state of every node: rate limits, circuits, idempotency locks, admin guesses."""

    url: str | None = setting(
        "IMAGEGATE_REDIS_URL", None, "shared rate limits, circuit breakers, idempotency locks (unset: in process)"
    )
    prefix: str = setting("IMAGEGATE_REDIS_PREFIX", "imagegate", "prefix of every Redis key the gateway writes")
    fail_open: bool = setting(
        "IMAGEGATE_RATE_LIMIT_ON_ERROR",
        "open",
        "Redis unreachable: `open` serves without limits, `closed` answers 503",
        choice_is(OPEN_CLOSED),
    )


@dataclass(frozen=True)
class HttpSettings:
    """The HTTP edge: connection deadlines and caps, body limits, stream keep-alives."""

    max_body_bytes: int = setting(
        "IMAGEGATE_MAX_BODY_BYTES",
        "1048576",
        "largest request body accepted; larger ones are 413 before they are read",
        integer(),
    )
    edit_max_body_bytes: int = setting(
        "IMAGEGATE_EDIT_MAX_BODY_BYTES",
        "52428800",
        "largest body that carries images: a multipart edit (all its images together), or a chat or Responses "
        "API body with its images inline; larger ones are 413 before they are read",
        integer(),
    )
    header_timeout_seconds: float = setting(
        "IMAGEGATE_HEADER_TIMEOUT_SECONDS",
        "10",
        "a client's request line and headers must arrive within this, from its first byte (or from connecting)",
        number(),
    )
    body_timeout_seconds: float = setting(
        "IMAGEGATE_BODY_TIMEOUT_SECONDS",
        "30",
        "a request's body must arrive within this, from the end of its headers",
        number(),
    )
    keepalive_timeout_seconds: float = setting(
        "IMAGEGATE_KEEPALIVE_TIMEOUT_SECONDS", "30", "an idle keep-alive connection is closed after this", number()
    )
    max_connections_per_client: int = setting(
        "IMAGEGATE_MAX_CONNECTIONS_PER_CLIENT",
        "512",
        "connections open at once from one client address, per worker (0: no cap; behind a proxy, cap there)",
        integer(0, clamp=True),
    )
    end_user_header: str | None = setting(
        "IMAGEGATE_END_USER_HEADER",
        None,
        "a request header naming the end user (e.g. Open WebUI's X-OpenWebUI-User-Id): end-user budgets count by it before the body's `user`",
        header_name,
    )
    stream_keepalive_seconds: float = setting(
        "IMAGEGATE_STREAM_KEEPALIVE_SECONDS",
        "5",
        "a chat or Responses stream sends an SSE comment whenever no event has gone out for this long (the image takes 10-20 s)",
        seconds,
    )


@dataclass(frozen=True)
class LogSettings:
    level: str = setting("IMAGEGATE_LOG_LEVEL", "info", "log level: debug, info, warning, error", lower)
    access_log: bool = setting(
        "IMAGEGATE_ACCESS_LOG",
        "true",
        "one line per request at level info (request id, key id, model, status, images, cost, latency); `false` turns it off",
        flag,
    )
    format: str = setting(
        "IMAGEGATE_LOG_FORMAT", "text", "`text`, or `json`: each access line as one JSON object", one_of("text", "json")
    )
    metrics: bool = setting("IMAGEGATE_METRICS", "false", "`true`: serve Prometheus metrics on `GET /metrics`", flag)


@dataclass(frozen=True)
class UpstreamSettings:
    """Calling the upstreams: the catalog, timeouts, retries and circuit breakers."""

    config: str | None = setting(
        "IMAGEGATE_CONFIG", None, "optional TOML file: catalog overrides (models, routes, prices)", text
    )
    timeout_seconds: float = setting(
        "IMAGEGATE_UPSTREAM_TIMEOUT_SECONDS", "300", "timeout of one upstream call", number()
    )
    max_connections: int | None = setting(
        "IMAGEGATE_UPSTREAM_MAX_CONNECTIONS",
        None,
        "upstream connections open at once; more requests wait for one (default: half the open-file limit, less 256)",
        integer(),
    )
    request_deadline_seconds: float = setting(
        "IMAGEGATE_REQUEST_DEADLINE_SECONDS", "600", "overall deadline of a request, retries included", number()
    )
    retry_attempts: int = setting(
        "IMAGEGATE_RETRY_ATTEMPTS", "3", "upstream attempts per route (first try included)", integer(1, clamp=True)
    )
    retry_base_seconds: float = setting(
        "IMAGEGATE_RETRY_BASE_SECONDS", "0.5", "first backoff delay; doubles per attempt, with full jitter", number()
    )
    retry_max_seconds: float = setting(
        "IMAGEGATE_RETRY_MAX_SECONDS", "20", "longest single wait between attempts (Retry-After included)", number()
    )
    breaker_failures: int = setting(
        "IMAGEGATE_BREAKER_FAILURES",
        "5",
        "consecutive failed upstream calls that open a route's circuit",
        integer(1, clamp=True),
    )
    breaker_cooldown_seconds: float = setting(
        "IMAGEGATE_BREAKER_COOLDOWN_SECONDS", "30", "how long an open circuit waits before one probe call", number()
    )


@dataclass(frozen=True)
class AdminSettings:
    token: str | None = setting("IMAGEGATE_ADMIN_TOKEN", None, "bearer token of the admin API (unset: admin API off)")
    auth_failures: int = setting(
        "IMAGEGATE_ADMIN_AUTH_FAILURES",
        "10",
        "wrong admin tokens (login form and admin API together) one client address may send per window; "
        "past it, every admin token from that address, right or wrong, answers 429 with Retry-After; 0: no limit",
        integer(0, 1_000_000),
    )
    auth_failures_all: int = setting(
        "IMAGEGATE_ADMIN_AUTH_FAILURES_ALL",
        "100",
        "wrong admin tokens from all addresses together per window (a guess spread over many addresses); "
        "past it, every admin token check answers 429 until failures age out; 0: no limit",
        integer(0, 1_000_000),
    )
    auth_window_seconds: int = setting(
        "IMAGEGATE_ADMIN_AUTH_WINDOW_SECONDS",
        "300",
        "how long a wrong admin token counts against the two limits above (shared by every node through Redis)",
        integer(1, 86400),
    )


@dataclass(frozen=True)
class ScreeningSettings:
    """Prompt screening (the policy, the moderation endpoint) and the screening of delivered images."""

    policy: str | None = setting(
        "IMAGEGATE_SAFETY_POLICY",
        None,
        "operator TOML file merged over the shipped prompt-screening policy (docs/safety.md)",
        text,
    )
    audit_prompts: bool = setting(
        "IMAGEGATE_AUDIT_PROMPTS", "false", "`true`: keep the prompt text with each recorded block or flag", flag
    )
    moderation_url: str | None = setting(
        "IMAGEGATE_MODERATION_URL",
        None,
        "moderations endpoint, e.g. `https://api.openai.com/v1/moderations` (unset: no moderation stage)",
    )
    moderation_api_key: str | None = setting(
        "IMAGEGATE_MODERATION_API_KEY", None, "key of the moderation endpoint (default: OPENAI_API_KEY)"
    )
    moderation_model: str = setting(
        "IMAGEGATE_MODERATION_MODEL", "omni-moderation-latest", "model asked by the moderation stage"
    )
    moderation_timeout_seconds: float = setting(
        "IMAGEGATE_MODERATION_TIMEOUT_SECONDS", "2", "latency budget of the moderation stage", number()
    )
    moderation_fail_open: bool = setting(
        "IMAGEGATE_MODERATION_ON_ERROR",
        "open",
        "moderation down or over budget: `open` serves the request, `closed` answers 503",
        choice_is(OPEN_CLOSED),
    )
    output: str = setting(
        "IMAGEGATE_OUTPUT_SCREENING",
        "off",
        "screen every image before it is handed out: `off`, `moderation` (the moderations endpoint above, "
        "image input; its `_ON_ERROR` applies) or `local` (NudeNet on this node; `pip install 'imagegate[screening]'`)",
        one_of("off", "moderation", "local"),
    )


@dataclass(frozen=True)
class StorageSettings:
    """Where images are kept, and the URLs that hand them out."""

    url: str | None = setting(
        "IMAGEGATE_STORAGE_URL",
        None,
        "where images are kept: `file:///path` (default: the data dir's `images`) or `s3://bucket/prefix` (credentials, region and endpoint from the standard `AWS_*` variables)",
    )
    url_mode: str = setting(
        "IMAGEGATE_URL_MODE",
        "gateway",
        "`gateway`: signed `/v1/files/…` URLs served by the gateway; `bucket`: the bucket's own pre-signed URLs (S3 only)",
        one_of("gateway", "bucket"),
    )
    timeout_seconds: float = setting(
        "IMAGEGATE_STORAGE_TIMEOUT_SECONDS", "30", "longest one image store call may take (retries included)", number()
    )
    signing_secret: bytes = setting(
        "IMAGEGATE_SIGNING_SECRET",
        None,
        "HMAC key for download URLs (default: generated once, kept in the data dir)",
        _encoded,
    )
    url_ttl_seconds: int = setting("IMAGEGATE_URL_TTL_SECONDS", "86400", "lifetime of a download URL", integer())
    image_grace_seconds: int = setting(
        "IMAGEGATE_IMAGE_GRACE_SECONDS",
        "3600",
        "how long after its URL expires an image is deleted by the sweeper",
        integer(),
    )


@dataclass(frozen=True)
class ImageSettings:
    """Image work: the input images accepted, the pixels decoded at once, what a stored image keeps."""

    edit_max_image_bytes: int = setting(
        "IMAGEGATE_EDIT_MAX_IMAGE_BYTES",
        "26214400",
        "largest single image (or mask) of an edit; a model's catalog `max_input_image_bytes` may be lower",
        integer(),
    )
    max_pixels_in_flight: int = setting(
        "IMAGEGATE_MAX_PIXELS_IN_FLIGHT",
        "67108864",
        "image pixels decoded, drawn or encoded at once per process (four 4096² images); more image work waits (0: no bound)",
        integer(0, clamp=True),
    )
    library_prompts: bool = setting(
        "IMAGEGATE_LIBRARY_PROMPTS",
        "true",
        "`false`: stored images keep no prompt (the library lists them without one, and search finds none)",
        flag,
    )


@dataclass(frozen=True)
class WebhookSettings:
    retry_base_seconds: float = setting(
        "IMAGEGATE_WEBHOOK_RETRY_BASE_SECONDS",
        "10",
        "first wait before a failed webhook is sent again; it doubles on each failure (with jitter)",
        seconds,
    )
    retry_max_seconds: float = setting(
        "IMAGEGATE_WEBHOOK_RETRY_MAX_SECONDS", "3600", "longest wait between two tries of a webhook", seconds
    )
    retry_window_seconds: float = setting(
        "IMAGEGATE_WEBHOOK_RETRY_WINDOW_SECONDS",
        "86400",
        "a webhook not delivered this long after its first try is marked `failed`",
        seconds,
    )
    timeout_seconds: float = setting(
        "IMAGEGATE_WEBHOOK_TIMEOUT_SECONDS",
        "10",
        "longest one webhook POST may take (connecting within 5 s of it)",
        seconds,
    )
    poll_seconds: float = setting(
        "IMAGEGATE_WEBHOOK_POLL_SECONDS",
        "2",
        "how often an idle node looks for webhooks due to be sent unwoken; a message queued on its node wakes it at "
        "once, and on PostgreSQL one queued on any node (LISTEN/NOTIFY: this poll is then a safety net of at least "
        "30 s while listening); a retry is sent when it falls due",
        seconds,
    )


@dataclass(frozen=True)
class JobSettings:
    workers: int = setting(
        "IMAGEGATE_JOB_WORKERS",
        "4",
        "async jobs (`Prefer: respond-async`) this node runs at once, per worker process; 0: it only accepts jobs, other nodes run them",
        integer(0, 256),
    )
    poll_seconds: float = setting(
        "IMAGEGATE_JOB_POLL_SECONDS",
        "2",
        "how often an idle job worker (and batch runner) looks for queued work unwoken; a job queued on its node "
        "wakes it at once, and on PostgreSQL one queued on any node (LISTEN/NOTIFY: this poll is then a safety net "
        "of at least 30 s while listening); on SQLite another process on the file finds jobs by this poll",
        number(0.05, 3600),
    )
    queue_ttl_seconds: int = setting(
        "IMAGEGATE_JOB_QUEUE_TTL_SECONDS",
        "3600",
        "a job no worker started within this fails as `job_expired`, its hold released",
        integer(1, 30 * 86400),
    )


@dataclass(frozen=True)
class BatchSettings:
    """OpenAI's Batch API: the input files accepted and how many of a batch's lines run at once."""

    max_file_bytes: int = setting(
        "IMAGEGATE_BATCH_MAX_FILE_BYTES",
        "52428800",
        "largest batch input file (`POST /v1/files`, purpose `batch`); larger uploads are 413",
        integer(1024, 1 << 30),
    )
    max_lines: int = setting(
        "IMAGEGATE_BATCH_MAX_LINES",
        "50000",
        "most requests (lines) one batch input file may hold",
        integer(1, 1_000_000),
    )
    concurrency: int = setting(
        "IMAGEGATE_BATCH_CONCURRENCY",
        "4",
        "most lines of one batch queued or running as jobs at once (the rest wait their turn)",
        integer(1, 1000),
    )


@dataclass(frozen=True)
class ProvenanceSettings:
    c2pa: bool = setting(
        "IMAGEGATE_C2PA",
        "on",
        "`on`: every image handed out carries a C2PA manifest signed by the gateway; `off`: unmarked (doctor warns)",
        _on_off,
    )
    cert: Path | None = setting(
        "IMAGEGATE_C2PA_CERT",
        None,
        "PEM file: the certificate chain that signs C2PA manifests (unset: the gateway's own, made in the data dir)",
        path,
    )
    key: Path | None = setting(
        "IMAGEGATE_C2PA_KEY", None, "PEM file: the private key of `IMAGEGATE_C2PA_CERT`'s first certificate", path
    )


__all__ = [
    "AdminSettings",
    "BatchSettings",
    "DatabaseSettings",
    "HttpSettings",
    "ImageSettings",
    "JobSettings",
    "LogSettings",
    "NodeSettings",
    "ProvenanceSettings",
    "RedisSettings",
    "ScreeningSettings",
    "StorageSettings",
    "UpstreamSettings",
    "WebhookSettings",
]
