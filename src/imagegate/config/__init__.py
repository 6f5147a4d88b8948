"""Settings, read once from the environment (and an optional TOML file) into a frozen object.

This is the only package that reads `os.environ`. Every setting is declared once, in its section
(`sections.py`); `SETTINGS` (the README table's test, `imagegate doctor`) and the loader derive from
those declarations. `Settings` is the sections plus what they name (the catalog, the safety policy).
"""

from __future__ import annotations

import os
import secrets
import socket
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, get_type_hints

from ..domain.catalog import Catalog
from ..domain.safety_policy import SafetyPolicy
from .sections import (
    AdminSettings,
    BatchSettings,
    DatabaseSettings,
    HttpSettings,
    ImageSettings,
    JobSettings,
    LogSettings,
    NodeSettings,
    ProvenanceSettings,
    RedisSettings,
    ScreeningSettings,
    StorageSettings,
    UpstreamSettings,
    WebhookSettings,
)
from .setting import Setting, SettingError, declared, read_section

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
    """The sections, each handed by `wiring.py` to the parts that use it, and what they name."""

    node: NodeSettings
    database: DatabaseSettings
    redis: RedisSettings
    http: HttpSettings
    logs: LogSettings
    upstream: UpstreamSettings
    admin: AdminSettings
    screening: ScreeningSettings
    storage: StorageSettings
    images: ImageSettings
    webhooks: WebhookSettings
    jobs: JobSettings
    batches: BatchSettings
    provenance: ProvenanceSettings
    catalog: Catalog = field(repr=False)
    """The shipped catalog with `IMAGEGATE_CONFIG`'s tables merged over it."""
    safety_policy: SafetyPolicy | None = field(repr=False)
    """The shipped screening policy with `IMAGEGATE_SAFETY_POLICY`'s merged over it."""
    storage_options: Mapping[str, str] = field(repr=False)
    """An `s3://` store's `AWS_*` variables, as obstore's config keys."""
    metrics_dir: Path | None
    """`PROMETHEUS_MULTIPROC_DIR`: where several worker processes add up their metrics."""
    env: Mapping[str, str] = field(repr=False)
    """The environment as read at start: providers read their credential variables from it."""


SECTIONS: dict[str, type[Any]] = {
    name: kind for name, kind in get_type_hints(Settings).items() if isinstance(kind, type) and declared(kind)
}
"""Each section by its name in `Settings` (the order of the settings table)."""
SETTINGS: tuple[Setting, ...] = tuple(s for section in SECTIONS.values() for s in declared(section))
"""Every setting of the gateway's own; each provider declares its credentials' (providers/)."""


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the environment once. Raises `SettingError` (a `ValueError`), naming the variable, for a
    value that cannot be used."""
    env = dict(os.environ if env is None else env)
    upstream = read_section(UpstreamSettings, env)
    node = read_section(
        NodeSettings,
        env,
        {
            "IMAGEGATE_NODE_ID": socket.gethostname,
            # a small margin past the request's own deadline
            "IMAGEGATE_HOLD_TTL_SECONDS": lambda: str(int(upstream.request_deadline_seconds) + HOLD_MARGIN_SECONDS),
        },
    )
    if node.hold_ttl_seconds <= upstream.request_deadline_seconds:
        raise SettingError(
            _named("IMAGEGATE_HOLD_TTL_SECONDS"),
            "IMAGEGATE_HOLD_TTL_SECONDS must be longer than IMAGEGATE_REQUEST_DEADLINE_SECONDS, "
            "or the sweeper could release the hold of a request that is still running",
        )
    screening = read_section(
        ScreeningSettings, env, {"IMAGEGATE_MODERATION_API_KEY": lambda: env.get("OPENAI_API_KEY") or None}
    )
    if screening.output == "moderation" and not screening.moderation_url:
        raise SettingError(
            _named("IMAGEGATE_OUTPUT_SCREENING"),
            "IMAGEGATE_OUTPUT_SCREENING=moderation needs IMAGEGATE_MODERATION_URL (the moderations endpoint)",
        )
    data_dir = node.data_dir
    return Settings(
        node=node,
        database=read_section(
            DatabaseSettings,
            env,
            {"IMAGEGATE_DATABASE_URL": lambda: f"sqlite+aiosqlite:///{data_dir / 'imagegate.db'}"},
        ),
        redis=read_section(RedisSettings, env),
        http=read_section(HttpSettings, env),
        logs=read_section(LogSettings, env),
        upstream=upstream,
        admin=read_section(AdminSettings, env),
        screening=screening,
        storage=read_section(StorageSettings, env, {"IMAGEGATE_SIGNING_SECRET": lambda: _kept_secret(data_dir)}),
        images=read_section(ImageSettings, env),
        webhooks=read_section(WebhookSettings, env),
        jobs=read_section(JobSettings, env),
        batches=read_section(BatchSettings, env),
        provenance=read_section(ProvenanceSettings, env),
        catalog=load_catalog(upstream.config, env),
        safety_policy=load_safety_policy(screening.policy),
        storage_options={name.lower(): env[name] for name in AWS_VARIABLES if env.get(name)},
        metrics_dir=Path(v) if (v := env.get("PROMETHEUS_MULTIPROC_DIR")) else None,
        env=env,
    )


def _named(name: str) -> Setting:
    return next(s for s in SETTINGS if s.name == name)


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


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _kept_secret(data_dir: Path) -> str:
    """The signing secret generated on first run and kept (mode 600) in the data dir."""
    path = data_dir / "signing-secret"
    if path.exists():
        return path.read_bytes().strip().decode()
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
    return path.read_bytes().strip().decode()


__all__ = [
    "AWS_VARIABLES",
    "HOLD_MARGIN_SECONDS",
    "SECTIONS",
    "SETTINGS",
    "Setting",
    "SettingError",
    "Settings",
    "load_catalog",
    "load_safety_policy",
    "load_settings",
]
