"""Settings, read once from the environment (and an optional TOML file) into a frozen object.

This is the only module that reads `os.environ`. Every setting is one row of `SETTINGS`
(name, default, help); the README's configuration table is checked against it by a test.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .domain.catalog import Catalog
from .domain.safety_policy import SafetyPolicy
from .domain.webhook_url import is_loopback_host
from .setting import Setting

SETTINGS: tuple[Setting, ...] = (  # the gateway's own; each provider declares its credentials' (providers/)
    Setting(
        "IMAGEGATE_DATA_DIR",
        "./data",
        "where the embedded database, images, the generated signing secret and C2PA chain live",
    ),
    Setting(
        "IMAGEGATE_DATABASE_URL",
        None,
        "SQLAlchemy URL; default a SQLite file in the data dir (`postgresql+asyncpg://…` at scale)",
    ),
    Setting(
        "IMAGEGATE_DATABASE_POOL_SIZE",
        "20",
        "PostgreSQL connections a serving process keeps (as many again when busy); nodes x workers x 2 x this must fit the server's max_connections",
    ),
    Setting("IMAGEGATE_REDIS_URL", None, "shared rate limits, circuit breakers, idempotency locks (unset: in process)"),
    Setting("IMAGEGATE_PUBLIC_URL", None, "base of the URLs handed to clients (default `http://<host>:<port>`)"),
    Setting(
        "IMAGEGATE_SIGNING_SECRET", None, "HMAC key for download URLs (default: generated once, kept in the data dir)"
    ),
    Setting("IMAGEGATE_URL_TTL_SECONDS", "86400", "lifetime of a download URL"),
    Setting("IMAGEGATE_ADMIN_TOKEN", None, "bearer token of the admin API (unset: admin API off)"),
    Setting(
        "IMAGEGATE_ADMIN_AUTH_FAILURES",
        "10",
        "wrong admin tokens (login form and admin API together) one client address may send per window; "
        "past it, every admin token from that address, right or wrong, answers 429 with Retry-After; 0: no limit",
    ),
    Setting(
        "IMAGEGATE_ADMIN_AUTH_FAILURES_ALL",
        "100",
        "wrong admin tokens from all addresses together per window (a guess spread over many addresses); "
        "past it, every admin token check answers 429 until failures age out; 0: no limit",
    ),
    Setting(
        "IMAGEGATE_ADMIN_AUTH_WINDOW_SECONDS",
        "300",
        "how long a wrong admin token counts against the two limits above (shared by every node through Redis)",
    ),
    Setting("IMAGEGATE_CONFIG", None, "optional TOML file: catalog overrides (models, routes, prices)"),
    Setting("IMAGEGATE_HOST", "127.0.0.1", "address `serve` binds to"),
    Setting("IMAGEGATE_PORT", "8000", "port `serve` listens on"),
    Setting("IMAGEGATE_UPSTREAM_TIMEOUT_SECONDS", "300", "timeout of one upstream call"),
    Setting(
        "IMAGEGATE_UPSTREAM_MAX_CONNECTIONS",
        None,
        "upstream connections open at once; more requests wait for one (default: half the open-file limit, less 256)",
    ),
    Setting("IMAGEGATE_REQUEST_DEADLINE_SECONDS", "600", "overall deadline of a request, retries included"),
    Setting("IMAGEGATE_RETRY_ATTEMPTS", "3", "upstream attempts per route (first try included)"),
    Setting("IMAGEGATE_RETRY_BASE_SECONDS", "0.5", "first backoff delay; doubles per attempt, with full jitter"),
    Setting("IMAGEGATE_RETRY_MAX_SECONDS", "20", "longest single wait between attempts (Retry-After included)"),
    Setting("IMAGEGATE_BREAKER_FAILURES", "5", "consecutive failed upstream calls that open a route's circuit"),
    Setting("IMAGEGATE_BREAKER_COOLDOWN_SECONDS", "30", "how long an open circuit waits before one probe call"),
    Setting("IMAGEGATE_REDIS_PREFIX", "imagegate", "prefix of every Redis key the gateway writes"),
    Setting(
        "IMAGEGATE_HOLD_TTL_SECONDS",
        None,
        "how long a hold lives if its request dies with its node (default: the request deadline plus 60 s)",
    ),
    Setting("IMAGEGATE_SWEEP_INTERVAL_SECONDS", "15", "how often each node releases expired holds"),
    Setting(
        "IMAGEGATE_NODE_ID",
        None,
        "this node's name, unique among the nodes sharing a database; a restarted node releases at once what its previous run held (default: the host name)",
    ),
    Setting("IMAGEGATE_LOG_LEVEL", "info", "log level: debug, info, warning, error"),
    Setting(
        "IMAGEGATE_ACCESS_LOG",
        "true",
        "one line per request at level info (request id, key id, model, status, images, cost, latency); `false` turns it off",
    ),
    Setting("IMAGEGATE_LOG_FORMAT", "text", "`text`, or `json`: each access line as one JSON object"),
    Setting(
        "IMAGEGATE_SAFETY_POLICY",
        None,
        "operator TOML file merged over the shipped prompt-screening policy (docs/safety.md)",
    ),
    Setting("IMAGEGATE_AUDIT_PROMPTS", "false", "`true`: keep the prompt text with each recorded block or flag"),
    Setting(
        "IMAGEGATE_LIBRARY_PROMPTS",
        "true",
        "`false`: stored images keep no prompt (the library lists them without one, and search finds none)",
    ),
    Setting(
        "IMAGEGATE_MODERATION_URL",
        None,
        "moderations endpoint, e.g. `https://api.openai.com/v1/moderations` (unset: no moderation stage)",
    ),
    Setting("IMAGEGATE_MODERATION_API_KEY", None, "key of the moderation endpoint (default: OPENAI_API_KEY)"),
    Setting("IMAGEGATE_MODERATION_MODEL", "omni-moderation-latest", "model asked by the moderation stage"),
    Setting("IMAGEGATE_MODERATION_TIMEOUT_SECONDS", "2", "latency budget of the moderation stage"),
    Setting(
        "IMAGEGATE_MODERATION_ON_ERROR",
        "open",
        "moderation down or over budget: `open` serves the request, `closed` answers 503",
    ),
    Setting(
        "IMAGEGATE_OUTPUT_SCREENING",
        "off",
        "screen every image before it is handed out: `off`, `moderation` (the moderations endpoint above, "
        "image input; its `_ON_ERROR` applies) or `local` (NudeNet on this node; `pip install 'imagegate[screening]'`)",
    ),
    Setting(
        "IMAGEGATE_RATE_LIMIT_ON_ERROR", "open", "Redis unreachable: `open` serves without limits, `closed` answers 503"
    ),
    Setting(
        "IMAGEGATE_MAX_BODY_BYTES", "1048576", "largest request body accepted; larger ones are 413 before they are read"
    ),
    Setting(
        "IMAGEGATE_STORAGE_URL",
        None,
        "where images are kept: `file:///path` (default: the data dir's `images`) or `s3://bucket/prefix` (credentials, region and endpoint from the standard `AWS_*` variables)",
    ),
    Setting(
        "IMAGEGATE_URL_MODE",
        "gateway",
        "`gateway`: signed `/v1/files/…` URLs served by the gateway; `bucket`: the bucket's own pre-signed URLs (S3 only)",
    ),
    Setting("IMAGEGATE_STORAGE_TIMEOUT_SECONDS", "30", "longest one image store call may take (retries included)"),
    Setting(
        "IMAGEGATE_IMAGE_GRACE_SECONDS", "3600", "how long after its URL expires an image is deleted by the sweeper"
    ),
    Setting("IMAGEGATE_METRICS", "false", "`true`: serve Prometheus metrics on `GET /metrics`"),
    Setting(
        "IMAGEGATE_HEADER_TIMEOUT_SECONDS",
        "10",
        "a client's request line and headers must arrive within this, from its first byte (or from connecting)",
    ),
    Setting(
        "IMAGEGATE_BODY_TIMEOUT_SECONDS", "30", "a request's body must arrive within this, from the end of its headers"
    ),
    Setting("IMAGEGATE_KEEPALIVE_TIMEOUT_SECONDS", "30", "an idle keep-alive connection is closed after this"),
    Setting(
        "IMAGEGATE_MAX_CONNECTIONS_PER_CLIENT",
        "512",
        "connections open at once from one client address, per worker (0: no cap; behind a proxy, cap there)",
    ),
    Setting(
        "IMAGEGATE_MAX_PIXELS_IN_FLIGHT",
        "67108864",
        "image pixels decoded, drawn or encoded at once per process (four 4096² images); more image work waits (0: no bound)",
    ),
    Setting(
        "IMAGEGATE_EDIT_MAX_BODY_BYTES",
        "52428800",
        "largest body that carries images: a multipart edit (all its images together), or a chat or Responses "
        "API body with its images inline; larger ones are 413 before they are read",
    ),
    Setting(
        "IMAGEGATE_WEBHOOK_RETRY_BASE_SECONDS",
        "10",
        "first wait before a failed webhook is sent again; it doubles on each failure (with jitter)",
    ),
    Setting("IMAGEGATE_WEBHOOK_RETRY_MAX_SECONDS", "3600", "longest wait between two tries of a webhook"),
    Setting(
        "IMAGEGATE_WEBHOOK_RETRY_WINDOW_SECONDS",
        "86400",
        "a webhook not delivered this long after its first try is marked `failed`",
    ),
    Setting(
        "IMAGEGATE_WEBHOOK_TIMEOUT_SECONDS", "10", "longest one webhook POST may take (connecting within 5 s of it)"
    ),
    Setting("IMAGEGATE_WEBHOOK_POLL_SECONDS", "2", "how often each node looks for webhooks due to be sent"),
    Setting(
        "IMAGEGATE_END_USER_HEADER",
        None,
        "a request header naming the end user (e.g. Open WebUI's X-OpenWebUI-User-Id): end-user budgets count by it before the body's `user`",
    ),
    Setting(
        "IMAGEGATE_STREAM_KEEPALIVE_SECONDS",
        "5",
        "a chat or Responses stream sends an SSE comment whenever no event has gone out for this long (the image takes 10-20 s)",
    ),
    Setting(
        "IMAGEGATE_EDIT_MAX_IMAGE_BYTES",
        "26214400",
        "largest single image (or mask) of an edit; a model's catalog `max_input_image_bytes` may be lower",
    ),
    Setting(
        "IMAGEGATE_JOB_WORKERS",
        "4",
        "async jobs (`Prefer: respond-async`) this node runs at once, per worker process; 0: it only accepts jobs, other nodes run them",
    ),
    Setting(
        "IMAGEGATE_JOB_POLL_SECONDS",
        "2",
        "how often an idle worker looks for queued jobs (a node wakes its own workers at once when it accepts one)",
    ),
    Setting(
        "IMAGEGATE_C2PA",
        "on",
        "`on`: every image handed out carries a C2PA manifest signed by the gateway; `off`: unmarked (doctor warns)",
    ),
    Setting(
        "IMAGEGATE_C2PA_CERT",
        None,
        "PEM file: the certificate chain that signs C2PA manifests (unset: the gateway's own, made in the data dir)",
    ),
    Setting("IMAGEGATE_C2PA_KEY", None, "PEM file: the private key of `IMAGEGATE_C2PA_CERT`'s first certificate"),
    Setting(
        "IMAGEGATE_JOB_QUEUE_TTL_SECONDS",
        "3600",
        "a job no worker started within this fails as `job_expired`, its hold released",
    ),
    Setting(
        "IMAGEGATE_BATCH_MAX_FILE_BYTES",
        "52428800",
        "largest batch input file (`POST /v1/files`, purpose `batch`); larger uploads are 413",
    ),
    Setting("IMAGEGATE_BATCH_MAX_LINES", "50000", "most requests (lines) one batch input file may hold"),
    Setting(
        "IMAGEGATE_BATCH_CONCURRENCY",
        "4",
        "most lines of one batch queued or running as jobs at once (the rest wait their turn)",
    ),
)
_DEFAULTS = {s.name: s.default for s in SETTINGS}
AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)
"""The standard AWS variables an `s3://` store reads (as obstore's S3 config keys, lower-cased)."""
HOLD_MARGIN_SECONDS = 60
"""How long past its request's deadline a hold may live by default (settle, storage and sweep slack)."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    database_pool_size: int
    redis_url: str | None
    public_url: str | None
    signing_secret: bytes
    url_ttl_seconds: int
    admin_token: str | None
    admin_auth_failures: int
    admin_auth_failures_all: int
    admin_auth_window_seconds: int
    host: str
    port: int
    upstream_timeout_seconds: float
    request_deadline_seconds: float
    retry_attempts: int
    retry_base_seconds: float
    retry_max_seconds: float
    hold_ttl_seconds: int
    sweep_interval_seconds: float
    log_level: str
    env: Mapping[str, str] = field(repr=False)
    """The environment as read at start: providers read their credential variables from it."""
    catalog: Catalog = field(repr=False)
    breaker_failures: int
    breaker_cooldown_seconds: float
    redis_prefix: str
    safety_policy: SafetyPolicy | None = field(repr=False)
    audit_prompts: bool
    library_prompts: bool
    moderation_url: str | None
    moderation_api_key: str | None = field(repr=False)
    moderation_model: str
    moderation_timeout_seconds: float
    moderation_fail_open: bool
    output_screening: str
    """`off`, `moderation` or `local` (docs/safety.md, "Output screening")."""
    rate_limit_fail_open: bool
    max_body_bytes: int
    upstream_max_connections: int | None
    access_log: bool
    log_format: str
    storage_url: str | None
    url_mode: str
    storage_options: Mapping[str, str] = field(repr=False)
    storage_timeout_seconds: float
    image_grace_seconds: int
    metrics: bool
    metrics_dir: Path | None
    node_id: str
    max_pixels_in_flight: int
    header_timeout_seconds: float
    body_timeout_seconds: float
    keepalive_timeout_seconds: float
    max_connections_per_client: int
    edit_max_body_bytes: int
    edit_max_image_bytes: int
    job_workers: int
    job_poll_seconds: float
    job_queue_ttl_seconds: int
    batch_max_file_bytes: int
    batch_max_lines: int
    batch_concurrency: int
    webhook_retry_base_seconds: float
    webhook_retry_max_seconds: float
    webhook_retry_window_seconds: float
    webhook_timeout_seconds: float
    stream_keepalive_seconds: float
    webhook_poll_seconds: float
    c2pa: bool
    """Mark every image with the gateway's signed C2PA manifest."""
    c2pa_cert: Path | None
    c2pa_key: Path | None
    end_user_header: str | None = None
    """The request header (lower case) that names the end user, set by the operator's front end."""

    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def is_public(self) -> bool:
        """Whether clients reach this node from elsewhere: its public URL's host (or, without one, the
        address it binds) is not a loopback host. A public node sends webhooks only to public addresses."""
        return not is_loopback_host(urlsplit(self.base_url()).hostname)


def _header_name(value: str | None, name: str) -> str | None:
    """An HTTP header's name (RFC 9110 token), lower case; None when unset."""
    if not value:
        return None
    if re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}", value) is None:
        raise ValueError(f"{name} must be an HTTP header name (letters, digits and - _ . etc.); got {value!r}")
    return value.lower()


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read the environment once. `overrides` (e.g. host/port from the CLI) win over it."""
    env = dict(os.environ if env is None else env)

    def get(name: str) -> str | None:
        value = env.get(name)
        return value if value not in (None, "") else _DEFAULTS[name]

    def text(name: str) -> str:
        value = get(name)
        assert value is not None, f"{name} has no default"
        return value

    data_dir = Path(text("IMAGEGATE_DATA_DIR")).resolve()
    database_url = get("IMAGEGATE_DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'imagegate.db'}"
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "database_pool_size": int(
            _bounded(text("IMAGEGATE_DATABASE_POOL_SIZE"), "IMAGEGATE_DATABASE_POOL_SIZE", 1, 1000)
        ),
        "redis_url": get("IMAGEGATE_REDIS_URL"),
        "public_url": get("IMAGEGATE_PUBLIC_URL"),
        "signing_secret": _signing_secret(get("IMAGEGATE_SIGNING_SECRET"), data_dir),
        "url_ttl_seconds": int(text("IMAGEGATE_URL_TTL_SECONDS")),
        "admin_token": get("IMAGEGATE_ADMIN_TOKEN"),
        "admin_auth_failures": int(
            _bounded(text("IMAGEGATE_ADMIN_AUTH_FAILURES"), "IMAGEGATE_ADMIN_AUTH_FAILURES", 0, 1_000_000)
        ),
        "admin_auth_failures_all": int(
            _bounded(text("IMAGEGATE_ADMIN_AUTH_FAILURES_ALL"), "IMAGEGATE_ADMIN_AUTH_FAILURES_ALL", 0, 1_000_000)
        ),
        "admin_auth_window_seconds": int(
            _bounded(text("IMAGEGATE_ADMIN_AUTH_WINDOW_SECONDS"), "IMAGEGATE_ADMIN_AUTH_WINDOW_SECONDS", 1, 86400)
        ),
        "host": text("IMAGEGATE_HOST"),
        "port": int(text("IMAGEGATE_PORT")),
        "upstream_timeout_seconds": float(text("IMAGEGATE_UPSTREAM_TIMEOUT_SECONDS")),
        "request_deadline_seconds": float(text("IMAGEGATE_REQUEST_DEADLINE_SECONDS")),
        "retry_attempts": max(1, int(text("IMAGEGATE_RETRY_ATTEMPTS"))),
        "retry_base_seconds": float(text("IMAGEGATE_RETRY_BASE_SECONDS")),
        "retry_max_seconds": float(text("IMAGEGATE_RETRY_MAX_SECONDS")),
        "hold_ttl_seconds": int(v) if (v := get("IMAGEGATE_HOLD_TTL_SECONDS")) else None,
        "sweep_interval_seconds": float(text("IMAGEGATE_SWEEP_INTERVAL_SECONDS")),
        "node_id": get("IMAGEGATE_NODE_ID") or socket.gethostname(),
        "max_pixels_in_flight": max(0, int(text("IMAGEGATE_MAX_PIXELS_IN_FLIGHT"))),
        "log_level": text("IMAGEGATE_LOG_LEVEL").lower(),
        "env": env,
        "catalog": load_catalog(get("IMAGEGATE_CONFIG"), env),
        "breaker_failures": max(1, int(text("IMAGEGATE_BREAKER_FAILURES"))),
        "breaker_cooldown_seconds": float(text("IMAGEGATE_BREAKER_COOLDOWN_SECONDS")),
        "redis_prefix": text("IMAGEGATE_REDIS_PREFIX"),
        "safety_policy": load_safety_policy(get("IMAGEGATE_SAFETY_POLICY")),
        "audit_prompts": _flag(get("IMAGEGATE_AUDIT_PROMPTS"), "IMAGEGATE_AUDIT_PROMPTS"),
        "library_prompts": _flag(get("IMAGEGATE_LIBRARY_PROMPTS"), "IMAGEGATE_LIBRARY_PROMPTS"),
        "moderation_url": get("IMAGEGATE_MODERATION_URL"),
        "moderation_api_key": get("IMAGEGATE_MODERATION_API_KEY") or env.get("OPENAI_API_KEY") or None,
        "moderation_model": text("IMAGEGATE_MODERATION_MODEL"),
        "moderation_timeout_seconds": float(text("IMAGEGATE_MODERATION_TIMEOUT_SECONDS")),
        "moderation_fail_open": _open_or_closed(get("IMAGEGATE_MODERATION_ON_ERROR"), "IMAGEGATE_MODERATION_ON_ERROR"),
        "output_screening": _output_screening(get("IMAGEGATE_OUTPUT_SCREENING"), get("IMAGEGATE_MODERATION_URL")),
        "rate_limit_fail_open": _open_or_closed(get("IMAGEGATE_RATE_LIMIT_ON_ERROR"), "IMAGEGATE_RATE_LIMIT_ON_ERROR"),
        "max_body_bytes": int(text("IMAGEGATE_MAX_BODY_BYTES")),
        "upstream_max_connections": int(v) if (v := get("IMAGEGATE_UPSTREAM_MAX_CONNECTIONS")) else None,
        "access_log": _flag(get("IMAGEGATE_ACCESS_LOG"), "IMAGEGATE_ACCESS_LOG"),
        "log_format": _one_of(get("IMAGEGATE_LOG_FORMAT"), "IMAGEGATE_LOG_FORMAT", ("text", "json")),
        "storage_url": get("IMAGEGATE_STORAGE_URL"),
        "url_mode": _one_of(get("IMAGEGATE_URL_MODE"), "IMAGEGATE_URL_MODE", ("gateway", "bucket")),
        "storage_options": {name.lower(): env[name] for name in AWS_VARIABLES if env.get(name)},
        "storage_timeout_seconds": float(text("IMAGEGATE_STORAGE_TIMEOUT_SECONDS")),
        "image_grace_seconds": int(text("IMAGEGATE_IMAGE_GRACE_SECONDS")),
        "metrics": _flag(get("IMAGEGATE_METRICS"), "IMAGEGATE_METRICS"),
        "metrics_dir": Path(v) if (v := env.get("PROMETHEUS_MULTIPROC_DIR")) else None,
        "header_timeout_seconds": float(text("IMAGEGATE_HEADER_TIMEOUT_SECONDS")),
        "body_timeout_seconds": float(text("IMAGEGATE_BODY_TIMEOUT_SECONDS")),
        "keepalive_timeout_seconds": float(text("IMAGEGATE_KEEPALIVE_TIMEOUT_SECONDS")),
        "max_connections_per_client": max(0, int(text("IMAGEGATE_MAX_CONNECTIONS_PER_CLIENT"))),
        "edit_max_body_bytes": int(text("IMAGEGATE_EDIT_MAX_BODY_BYTES")),
        "edit_max_image_bytes": int(text("IMAGEGATE_EDIT_MAX_IMAGE_BYTES")),
        "webhook_retry_base_seconds": _positive(
            text("IMAGEGATE_WEBHOOK_RETRY_BASE_SECONDS"), "IMAGEGATE_WEBHOOK_RETRY_BASE_SECONDS"
        ),
        "webhook_retry_max_seconds": _positive(
            text("IMAGEGATE_WEBHOOK_RETRY_MAX_SECONDS"), "IMAGEGATE_WEBHOOK_RETRY_MAX_SECONDS"
        ),
        "webhook_retry_window_seconds": _positive(
            text("IMAGEGATE_WEBHOOK_RETRY_WINDOW_SECONDS"), "IMAGEGATE_WEBHOOK_RETRY_WINDOW_SECONDS"
        ),
        "webhook_timeout_seconds": _positive(
            text("IMAGEGATE_WEBHOOK_TIMEOUT_SECONDS"), "IMAGEGATE_WEBHOOK_TIMEOUT_SECONDS"
        ),
        "webhook_poll_seconds": _positive(text("IMAGEGATE_WEBHOOK_POLL_SECONDS"), "IMAGEGATE_WEBHOOK_POLL_SECONDS"),
        "stream_keepalive_seconds": _positive(
            text("IMAGEGATE_STREAM_KEEPALIVE_SECONDS"), "IMAGEGATE_STREAM_KEEPALIVE_SECONDS"
        ),
        "c2pa": _one_of(get("IMAGEGATE_C2PA"), "IMAGEGATE_C2PA", ("on", "off")) == "on",
        "c2pa_cert": Path(v).expanduser() if (v := get("IMAGEGATE_C2PA_CERT")) else None,
        "c2pa_key": Path(v).expanduser() if (v := get("IMAGEGATE_C2PA_KEY")) else None,
        "end_user_header": _header_name(env.get("IMAGEGATE_END_USER_HEADER"), "IMAGEGATE_END_USER_HEADER"),
        "job_workers": int(_bounded(text("IMAGEGATE_JOB_WORKERS"), "IMAGEGATE_JOB_WORKERS", 0, 256)),
        "job_poll_seconds": float(
            _bounded(text("IMAGEGATE_JOB_POLL_SECONDS"), "IMAGEGATE_JOB_POLL_SECONDS", 0.05, 3600)
        ),
        "job_queue_ttl_seconds": int(
            _bounded(text("IMAGEGATE_JOB_QUEUE_TTL_SECONDS"), "IMAGEGATE_JOB_QUEUE_TTL_SECONDS", 1, 30 * 86400)
        ),
        "batch_max_file_bytes": int(
            _bounded(text("IMAGEGATE_BATCH_MAX_FILE_BYTES"), "IMAGEGATE_BATCH_MAX_FILE_BYTES", 1024, 1 << 30)
        ),
        "batch_max_lines": int(_bounded(text("IMAGEGATE_BATCH_MAX_LINES"), "IMAGEGATE_BATCH_MAX_LINES", 1, 1_000_000)),
        "batch_concurrency": int(_bounded(text("IMAGEGATE_BATCH_CONCURRENCY"), "IMAGEGATE_BATCH_CONCURRENCY", 1, 1000)),
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    if values["hold_ttl_seconds"] is None:  # a small margin past the request's own deadline
        values["hold_ttl_seconds"] = int(values["request_deadline_seconds"]) + HOLD_MARGIN_SECONDS
    settings = Settings(**values)
    if settings.hold_ttl_seconds <= settings.request_deadline_seconds:
        raise ValueError(
            "IMAGEGATE_HOLD_TTL_SECONDS must be longer than IMAGEGATE_REQUEST_DEADLINE_SECONDS, "
            "or the sweeper could release the hold of a request that is still running"
        )
    return settings


def load_catalog(config_path: str | None = None, env: Mapping[str, str] | None = None) -> Catalog:
    """The shipped catalog, with the operator's `[models.*]` and `[providers.*]` tables merged over it.

    A model's `routes` list in the operator's file replaces the shipped one. A route may name the
    environment variable holding its key (`api_key_env`) instead of writing the key in the file.
    """
    data = tomllib.loads(resources.files("imagegate").joinpath("catalog.toml").read_text("utf-8"))
    if config_path:
        with open(config_path, "rb") as fh:
            operator = tomllib.load(fh)
        data = _merge(data, operator)
    _resolve_route_keys(data, os.environ if env is None else env)
    return Catalog.from_dict(data)


def _resolve_route_keys(data: dict[str, Any], env: Mapping[str, str]) -> None:
    for model in (data.get("models") or {}).values():
        for route in model.get("routes", ()) if isinstance(model, dict) else ():
            if isinstance(route, dict) and "api_key_env" in route:
                route["api_key"] = env.get(route.pop("api_key_env")) or None


def load_safety_policy(policy_path: str | None = None) -> SafetyPolicy:
    """The shipped screening policy, with the operator's TOML file merged over it."""
    shipped = tomllib.loads(resources.files("imagegate").joinpath("safety_policy.toml").read_text("utf-8"))
    if not policy_path:
        return SafetyPolicy.from_dicts(shipped)
    with open(policy_path, "rb") as fh:
        return SafetyPolicy.from_dicts(shipped, tomllib.load(fh))


def _positive(value: str, name: str) -> float:
    number = float(value)
    if not 0 < number < float("inf"):
        raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
    return number


def _bounded(value: str, name: str, low: float, high: float) -> int | float:
    """A number within [low, high] (an integer when it is written as one), else a clear error."""
    try:
        number: int | float = int(value) if value.strip().lstrip("-").isdigit() else float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {value!r}") from None
    if not low <= number <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}, not {value!r}")
    return number


def _flag(value: str | None, name: str) -> bool:
    text = (value or "false").strip().lower()
    if text not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"{name} must be true or false, not {value!r}")
    return text in ("true", "1", "yes")


def _one_of(value: str | None, name: str, choices: tuple[str, ...]) -> str:
    text = (value or choices[0]).strip().lower()
    if text not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return text


def _output_screening(value: str | None, moderation_url: str | None) -> str:
    mode = _one_of(value, "IMAGEGATE_OUTPUT_SCREENING", ("off", "moderation", "local"))
    if mode == "moderation" and not moderation_url:
        raise ValueError(
            "IMAGEGATE_OUTPUT_SCREENING=moderation needs IMAGEGATE_MODERATION_URL (the moderations endpoint)"
        )
    return mode


def _open_or_closed(value: str | None, name: str) -> bool:
    """True for fail-open."""
    text = (value or "open").strip().lower()
    if text not in ("open", "closed"):
        raise ValueError(f"{name} must be 'open' or 'closed', not {value!r}")
    return text == "open"


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _signing_secret(configured: str | None, data_dir: Path) -> bytes:
    """The configured secret, or one generated on first run and kept (mode 600) in the data dir."""
    if configured:
        return configured.encode()
    path = data_dir / "signing-secret"
    if path.exists():
        return path.read_bytes().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = data_dir / f".signing-secret.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(secrets.token_urlsafe(48).encode())
    try:
        os.link(tmp, path)  # atomic: exactly one process's secret wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_bytes().strip()


__all__ = ["SETTINGS", "Setting", "Settings", "load_catalog", "load_safety_policy", "load_settings"]
