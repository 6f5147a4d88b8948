"""Settings, read once from the environment (and an optional TOML file) into a frozen object.

This is the only module that reads `os.environ`. Every setting is one row of `SETTINGS`
(name, default, help); the README's configuration table is checked against it by a test.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .domain.catalog import Catalog
from .domain.safety_policy import SafetyPolicy
from .setting import Setting


SETTINGS: tuple[Setting, ...] = (  # the gateway's own; each provider declares its credentials' (providers/)
    Setting("IMAGEGATE_DATA_DIR", "./data", "where the embedded database, images and the generated signing secret live"),
    Setting("IMAGEGATE_DATABASE_URL", None, "SQLAlchemy URL; default a SQLite file in the data dir (`postgresql+asyncpg://…` at scale)"),
    Setting("IMAGEGATE_REDIS_URL", None, "shared rate limits, circuit breakers, idempotency locks (unset: in process)"),
    Setting("IMAGEGATE_PUBLIC_URL", None, "base of the URLs handed to clients (default `http://<host>:<port>`)"),
    Setting("IMAGEGATE_SIGNING_SECRET", None, "HMAC key for download URLs (default: generated once, kept in the data dir)"),
    Setting("IMAGEGATE_URL_TTL_SECONDS", "86400", "lifetime of a download URL"),
    Setting("IMAGEGATE_ADMIN_TOKEN", None, "bearer token of the admin API (unset: admin API off)"),
    Setting("IMAGEGATE_CONFIG", None, "optional TOML file: catalog overrides (models, routes, prices)"),
    Setting("IMAGEGATE_HOST", "127.0.0.1", "address `serve` binds to"),
    Setting("IMAGEGATE_PORT", "8000", "port `serve` listens on"),
    Setting("IMAGEGATE_UPSTREAM_TIMEOUT_SECONDS", "300", "timeout of one upstream call"),
    Setting("IMAGEGATE_UPSTREAM_MAX_CONNECTIONS", None, "upstream connections open at once; more requests wait for one (default: half the open-file limit, less 256)"),
    Setting("IMAGEGATE_REQUEST_DEADLINE_SECONDS", "600", "overall deadline of a request, retries included"),
    Setting("IMAGEGATE_RETRY_ATTEMPTS", "3", "upstream attempts per route (first try included)"),
    Setting("IMAGEGATE_RETRY_BASE_SECONDS", "0.5", "first backoff delay; doubles per attempt, with full jitter"),
    Setting("IMAGEGATE_RETRY_MAX_SECONDS", "20", "longest single wait between attempts (Retry-After included)"),
    Setting("IMAGEGATE_BREAKER_FAILURES", "5", "consecutive failed upstream calls that open a route's circuit"),
    Setting("IMAGEGATE_BREAKER_COOLDOWN_SECONDS", "30", "how long an open circuit waits before one probe call"),
    Setting("IMAGEGATE_REDIS_PREFIX", "imagegate", "prefix of every Redis key the gateway writes"),
    Setting("IMAGEGATE_HOLD_TTL_SECONDS", "900", "how long a hold outlives a request that died with its node"),
    Setting("IMAGEGATE_SWEEP_INTERVAL_SECONDS", "60", "how often each node releases expired holds"),
    Setting("IMAGEGATE_LOG_LEVEL", "info", "log level: debug, info, warning, error"),
    Setting("IMAGEGATE_SAFETY_POLICY", None, "operator TOML file merged over the shipped prompt-screening policy (docs/safety.md)"),
    Setting("IMAGEGATE_AUDIT_PROMPTS", "false", "`true`: keep the prompt text with each recorded block or flag"),
    Setting("IMAGEGATE_MODERATION_URL", None, "moderations endpoint, e.g. `https://api.openai.com/v1/moderations` (unset: no moderation stage)"),
    Setting("IMAGEGATE_MODERATION_API_KEY", None, "key of the moderation endpoint (default: OPENAI_API_KEY)"),
    Setting("IMAGEGATE_MODERATION_MODEL", "omni-moderation-latest", "model asked by the moderation stage"),
    Setting("IMAGEGATE_MODERATION_TIMEOUT_SECONDS", "2", "latency budget of the moderation stage"),
    Setting("IMAGEGATE_MODERATION_ON_ERROR", "open", "moderation down or over budget: `open` serves the request, `closed` answers 503"),
    Setting("IMAGEGATE_RATE_LIMIT_ON_ERROR", "open", "Redis unreachable: `open` serves without limits, `closed` answers 503"),
    Setting("IMAGEGATE_MAX_BODY_BYTES", "1048576", "largest request body accepted; larger ones are 413 before they are read"),
    Setting("IMAGEGATE_EDIT_MAX_BODY_BYTES", "52428800", "largest multipart body of an edit (all its images together); larger ones are 413 before they are read"),
    Setting("IMAGEGATE_EDIT_MAX_IMAGE_BYTES", "26214400", "largest single image (or mask) of an edit; a model's catalog `max_input_image_bytes` may be lower"),
)
_DEFAULTS = {s.name: s.default for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None
    public_url: str | None
    signing_secret: bytes
    url_ttl_seconds: int
    admin_token: str | None
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
    moderation_url: str | None
    moderation_api_key: str | None = field(repr=False)
    moderation_model: str
    moderation_timeout_seconds: float
    moderation_fail_open: bool
    rate_limit_fail_open: bool
    max_body_bytes: int
    upstream_max_connections: int | None
    edit_max_body_bytes: int = 52_428_800
    edit_max_image_bytes: int = 26_214_400

    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


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
    values: dict[str, Any] = dict(
        data_dir=data_dir,
        database_url=database_url,
        redis_url=get("IMAGEGATE_REDIS_URL"),
        public_url=get("IMAGEGATE_PUBLIC_URL"),
        signing_secret=_signing_secret(get("IMAGEGATE_SIGNING_SECRET"), data_dir),
        url_ttl_seconds=int(text("IMAGEGATE_URL_TTL_SECONDS")),
        admin_token=get("IMAGEGATE_ADMIN_TOKEN"),
        host=text("IMAGEGATE_HOST"),
        port=int(text("IMAGEGATE_PORT")),
        upstream_timeout_seconds=float(text("IMAGEGATE_UPSTREAM_TIMEOUT_SECONDS")),
        request_deadline_seconds=float(text("IMAGEGATE_REQUEST_DEADLINE_SECONDS")),
        retry_attempts=max(1, int(text("IMAGEGATE_RETRY_ATTEMPTS"))),
        retry_base_seconds=float(text("IMAGEGATE_RETRY_BASE_SECONDS")),
        retry_max_seconds=float(text("IMAGEGATE_RETRY_MAX_SECONDS")),
        hold_ttl_seconds=int(text("IMAGEGATE_HOLD_TTL_SECONDS")),
        sweep_interval_seconds=float(text("IMAGEGATE_SWEEP_INTERVAL_SECONDS")),
        log_level=text("IMAGEGATE_LOG_LEVEL").lower(),
        env=env,
        catalog=load_catalog(get("IMAGEGATE_CONFIG"), env),
        breaker_failures=max(1, int(text("IMAGEGATE_BREAKER_FAILURES"))),
        breaker_cooldown_seconds=float(text("IMAGEGATE_BREAKER_COOLDOWN_SECONDS")),
        redis_prefix=text("IMAGEGATE_REDIS_PREFIX"),
        safety_policy=load_safety_policy(get("IMAGEGATE_SAFETY_POLICY")),
        audit_prompts=_flag(get("IMAGEGATE_AUDIT_PROMPTS"), "IMAGEGATE_AUDIT_PROMPTS"),
        moderation_url=get("IMAGEGATE_MODERATION_URL"),
        moderation_api_key=get("IMAGEGATE_MODERATION_API_KEY") or env.get("OPENAI_API_KEY") or None,
        moderation_model=text("IMAGEGATE_MODERATION_MODEL"),
        moderation_timeout_seconds=float(text("IMAGEGATE_MODERATION_TIMEOUT_SECONDS")),
        moderation_fail_open=_open_or_closed(get("IMAGEGATE_MODERATION_ON_ERROR"), "IMAGEGATE_MODERATION_ON_ERROR"),
        rate_limit_fail_open=_open_or_closed(get("IMAGEGATE_RATE_LIMIT_ON_ERROR"), "IMAGEGATE_RATE_LIMIT_ON_ERROR"),
        max_body_bytes=int(text("IMAGEGATE_MAX_BODY_BYTES")),
        upstream_max_connections=int(v) if (v := get("IMAGEGATE_UPSTREAM_MAX_CONNECTIONS")) else None,
        edit_max_body_bytes=int(text("IMAGEGATE_EDIT_MAX_BODY_BYTES")),
        edit_max_image_bytes=int(text("IMAGEGATE_EDIT_MAX_IMAGE_BYTES")),
    )
    values.update({k: v for k, v in overrides.items() if v is not None})
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


def _flag(value: str | None, name: str) -> bool:
    text = (value or "false").strip().lower()
    if text not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"{name} must be true or false, not {value!r}")
    return text in ("true", "1", "yes")


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
