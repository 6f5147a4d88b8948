"""`imagegate doctor`: check a setup, one line per check, with the fix when one fails.

Required checks (a failure exits 1): the configuration loads, the database answers and is migrated,
Redis answers (when configured), the image store is writable, the signing secret is usable, the C2PA
credentials sign, and no upstream refuses its key. Warnings (exit 0): the public URL does not answer
from this machine, an upstream cannot be reached, a route has no credentials, images leave unmarked
(`IMAGEGATE_C2PA=off`) or are signed by the gateway's own chain, on no trust list. Nothing here
migrates, generates or pays.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import secrets
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ...config import SETTINGS, Settings
from ...config.setting import Setting, SettingError
from ...db.engine import schema_revisions
from ...domain.catalog import Model, Route
from ...domain.safe_url import safe_url
from ...provenance.c2pa_marker import C2paMarker
from ...provenance.credentials import CredentialsError, SigningCredentials, load_credentials
from ...providers.http_client import UpstreamClient, UpstreamConnectionError
from ...providers.probes import Probe, ProbeResult, run_probe
from ...providers.registry import credential_sections, credential_settings, default_registry, read_credentials
from ...routing.router import route_credentials

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str | None = None


@dataclass(frozen=True, slots=True)
class Reach:
    """What the checks reach the outside through, built from the loaded settings by the composition
    root (`wiring.open_doctor`): nothing is connected until a check asks."""

    database: AsyncEngine
    redis_ping: Callable[[], Awaitable[object]] | None
    """None when IMAGEGATE_REDIS_URL is unset."""
    client: UpstreamClient


OpenReach = Callable[[Settings, float], AbstractAsyncContextManager[Reach]]
"""Builds the `Reach` of these settings, each network call bounded by the timeout; closes it on exit."""


def report(checks: Sequence[Check]) -> dict[str, Any]:
    return {"ok": all(c.status != FAIL for c in checks), "checks": [asdict(c) for c in checks]}


async def diagnose(
    load: Callable[[], Settings], open_reach: OpenReach, *, offline: bool = False, timeout: float = 5.0
) -> list[Check]:
    """Every check, in order. `load` reads the settings (a failure there is the first check's)."""
    try:
        settings = load()
    except SettingError as exc:
        return [Check("configuration", FAIL, str(exc), _fix(exc.setting))]
    except Exception as exc:
        return [Check("configuration", FAIL, f"{type(exc).__name__}: {exc}", "correct the setting named above")]
    checks = [_configuration(settings)]
    async with open_reach(settings, timeout) as reach:
        checks += await _database(settings, reach.database, timeout)
        checks.append(await _redis(settings, reach.redis_ping))
        checks.append(await asyncio.to_thread(_storage, settings.node.data_dir / "images"))
        checks.append(_signing_secret(settings))
        checks.append(await asyncio.to_thread(_provenance, settings))
        checks.append(await _public_url(settings, reach.client, offline, timeout))
        checks += await _routes(settings, reach.client, offline, timeout)
    return checks


# -- the settings


def _configuration(settings: Settings) -> Check:
    """What was loaded, and which declared settings the environment sets (names only: some are keys)."""
    routes = sum(len(m.routes) for m in settings.catalog)
    given = [s.name for s in (*SETTINGS, *credential_settings(default_registry())) if settings.env.get(s.name)]
    where = f"set: {', '.join(given)}" if given else "every setting at its default"
    return Check("configuration", OK, f"loaded; {len(list(settings.catalog))} models, {routes} routes; {where}")


def _fix(setting: Setting) -> str:
    """The fix for a refused value, from the setting's declaration."""
    default = "no default" if setting.default is None else f"default `{setting.default}`"
    return f"correct {setting.name}: {setting.help} ({default})"


# -- database and Redis


async def _database(settings: Settings, engine: AsyncEngine, timeout: float) -> list[Check]:
    url = settings.database.url
    where = safe_url(url)
    fix_init = "run `imagegate init` (or start `imagegate serve`), which creates and migrates it"
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[-1])
        if not path.is_file():
            return [Check("database", FAIL, f"no database file at {path}", fix_init)]
    try:
        async with asyncio.timeout(timeout):
            current, heads = await schema_revisions(engine)
    except Exception as exc:
        fix = "check IMAGEGATE_DATABASE_URL and that the database server is running and accepts this user"
        return [Check("database", FAIL, f"{where} did not answer: {_reason(exc)}", fix)]
    checks = [Check("database", OK, f"{where} answers")]
    if current in heads:
        checks.append(Check("migrations", OK, f"at the newest revision ({current})"))
    else:
        checks.append(
            Check("migrations", FAIL, f"at revision {current or 'none'}, newest is {', '.join(heads)}", fix_init)
        )
    return checks


async def _redis(settings: Settings, ping: Callable[[], Awaitable[object]] | None) -> Check:
    if not settings.redis.url or ping is None:
        return Check("redis", SKIP, "not configured: rate limits, circuits and locks are kept in this process")
    try:
        await ping()
    except Exception as exc:
        return Check(
            "redis",
            FAIL,
            f"{safe_url(settings.redis.url)} did not answer: {_reason(exc)}",
            "check IMAGEGATE_REDIS_URL and that Redis is running (or unset it for one node)",
        )
    return Check("redis", OK, f"{safe_url(settings.redis.url)} answers")


# -- files and secrets


def _storage(root: Path) -> Check:
    probe = root / f".doctor-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"imagegate doctor")
        ok = probe.read_bytes() == b"imagegate doctor"
        probe.unlink()
    except OSError as exc:
        return Check(
            "storage",
            FAIL,
            f"cannot write images to {root}: {_reason(exc)}",
            f"make {root} a directory writable by the user running imagegate, or set IMAGEGATE_DATA_DIR",
        )
    if not ok:
        return Check("storage", FAIL, f"{root} does not give back what was written", f"check the filesystem of {root}")
    return Check("storage", OK, f"{root} is writable")


def _signing_secret(settings: Settings) -> Check:
    secret = settings.storage.signing_secret
    kept = settings.node.data_dir / "signing-secret"
    generated = kept.is_file() and kept.read_bytes().strip() == secret
    source = f"generated, kept in {kept}" if generated else "IMAGEGATE_SIGNING_SECRET"
    if len(secret) < 16:
        return Check(
            "signing secret",
            FAIL,
            f"{source} is only {len(secret)} bytes",
            "set IMAGEGATE_SIGNING_SECRET to at least 32 random characters",
        )
    if generated and not settings.database.embedded:
        return Check(
            "signing secret",
            WARN,
            f"{source}: each node of a shared database generates its own",
            "set IMAGEGATE_SIGNING_SECRET to the same value on every node",
        )
    return Check("signing secret", OK, source)


C2PA = "c2pa"
EXPIRY_WARNING_DAYS = 30


def _provenance(settings: Settings) -> Check:
    """Whether images leave marked, and whose signature a validator will see."""
    provenance = settings.provenance
    if not provenance.c2pa:
        return Check(
            C2PA,
            WARN,
            "IMAGEGATE_C2PA=off: images leave with no C2PA manifest (EU AI Act article 50 asks that generated "
            "images be marked as such, machine-readably)",
            "unset IMAGEGATE_C2PA (or set it to on)",
        )
    try:
        credentials = load_credentials(provenance.cert, provenance.key, settings.node.data_dir, create=False)
        failures = _sign_sample(credentials)
    except CredentialsError as exc:
        own = provenance.cert is None and provenance.key is None
        fix = (
            "run `imagegate init` (or start `imagegate serve`), which makes it"
            if own
            else "point IMAGEGATE_C2PA_CERT and IMAGEGATE_C2PA_KEY at a readable PEM chain and its unencrypted key"
        )
        return Check(C2PA, FAIL, str(exc), fix)
    if failures:
        return Check(
            C2PA,
            FAIL,
            f"manifests signed with {credentials.where} do not validate: {'; '.join(failures)}",
            "use a certificate with key usage digitalSignature and an extended key usage C2PA accepts "
            "(emailProtection, documentSigning or claimSigning)",
        )
    days_left = (credentials.not_after - datetime.datetime.now(datetime.UTC)).days
    if days_left < EXPIRY_WARNING_DAYS:
        return Check(
            C2PA,
            WARN,
            f"the signing certificate ({credentials.where}) expires on {credentials.not_after:%Y-%m-%d}",
            "renew it and point IMAGEGATE_C2PA_CERT / IMAGEGATE_C2PA_KEY at the new files",
        )
    if credentials.own:
        shared = "" if settings.database.embedded else "; every node must sign with the same chain"
        return Check(
            C2PA,
            WARN,
            f"images are signed by the gateway's own chain ({credentials.where}), which is not from a trusted "
            f"list: validators show its Content Credentials as from an unknown signer{shared}",
            "set IMAGEGATE_C2PA_CERT and IMAGEGATE_C2PA_KEY to a certificate whose CA is on the C2PA trust list"
            + (" (the same on every node, or share the data dir)" if shared else ""),
        )
    return Check(
        C2PA,
        OK,
        f"signed by {credentials.subject}, issued by {credentials.issuer}, valid until "
        f"{credentials.not_after:%Y-%m-%d} (whether validators trust it depends on its CA being on the C2PA "
        "trust list)",
    )


def _sign_sample(credentials: SigningCredentials) -> list[str]:
    marker = C2paMarker(credentials, "doctor")
    try:
        return marker.check()
    finally:
        marker.close()


# -- the network


async def _public_url(settings: Settings, client: UpstreamClient, offline: bool, timeout: float) -> Check:
    url = settings.node.base_url() + "/healthz"
    if offline:
        return Check("public url", SKIP, f"{url} not called (--offline)")
    try:
        response = await client.get(url, timeout=timeout)
    except UpstreamConnectionError as exc:
        return Check(
            "public url",
            WARN,
            f"nothing answers at {url}: {exc}",
            "start `imagegate serve`; set IMAGEGATE_PUBLIC_URL to the address clients use",
        )
    if response.status_code == 200:
        return Check("public url", OK, f"{url} answers 200")
    return Check(
        "public url",
        WARN,
        f"{url} answers {response.status_code}",
        "IMAGEGATE_PUBLIC_URL should lead to this gateway (image URLs are built on it)",
    )


async def _routes(settings: Settings, client: UpstreamClient, offline: bool, timeout: float) -> list[Check]:
    planned = [
        (model, route, *_plan(settings, route, client))
        for model in settings.catalog
        for route in sorted(model.routes, key=lambda r: r.priority)
    ]
    probes = {p.identity(): p for *_, p in planned if p is not None}
    results: dict[Any, ProbeResult] = {}
    if not offline:
        done = await asyncio.gather(*(run_probe(client, p, timeout) for p in probes.values()))
        results = dict(zip(probes, done, strict=True))
    return [
        _route_check(model, route, configured, probe, results, offline) for model, route, configured, probe in planned
    ]


def _plan(settings: Settings, route: Route, client: UpstreamClient) -> tuple[bool, Probe | None]:
    """(credentials set?, the call that tests them)."""
    registry = default_registry()
    credentials = route_credentials(route, read_credentials(registry, settings.env))
    entry = registry.get(route.provider)
    configured = bool(entry and entry.build(route, credentials, client))
    make_probe = entry.probe if entry else None
    return configured, make_probe(credentials) if configured and make_probe else None


def _credential_variables(section_name: str) -> str | None:
    """Where a route's credentials section comes from, for the fix line."""
    section = credential_sections(default_registry()).get(section_name)
    if section is None or section.api_key is None:
        return None
    first, *rest = (s.name for s in section.settings())
    return f"{first} (and {', '.join(rest)})" if rest else first


def _route_check(
    model: Model, route: Route, configured: bool, probe: Probe | None, results: dict[Any, ProbeResult], offline: bool
) -> Check:
    name = f"route {model.id}/{route.name}"
    where = _credential_variables(route.credentials) or "the route's base_url / api_key in IMAGEGATE_CONFIG"
    if not configured:
        return Check(
            name, WARN, f"{route.provider}: no credentials; live keys get 503 no_route_available", f"set {where}"
        )
    if probe is None:
        return Check(name, OK, f"{route.provider}: built in, nothing to check")
    if offline:
        return Check(name, SKIP, f"{route.provider}: credentials set; not verified (--offline)")
    result = results[probe.identity()]
    host = probe.url.split("?", 1)[0]
    if result.outcome == "accepted":
        accepted = "the upstream accepted the key" if probe.key_sent else "the upstream answered"
        return Check(name, OK, f"{route.provider}: {accepted} (GET {host}, {result.latency_ms} ms)")
    if result.outcome == "rejected":
        return Check(name, FAIL, f"{route.provider}: {result.detail}", f"check {where}")
    if result.outcome == "unreachable":
        return Check(
            name,
            WARN,
            f"{route.provider}: could not reach {host}: {result.detail}",
            "check the base URL and this machine's network (--offline skips this check)",
        )
    return Check(name, WARN, f"{route.provider}: {result.detail} (GET {host})", f"check the base URL in {where}")


# -- text


def _reason(exc: BaseException) -> str:
    text_ = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text_}"[:300] if text_ else type(exc).__name__


def render(checks: Sequence[Check]) -> str:
    """One line per check, with `fix:` when it did not pass; a summary line last."""
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        line = f"{c.status:4}  {c.name:{width}}  {c.detail}"
        if c.fix and c.status in (FAIL, WARN):
            line += f"  -> fix: {c.fix}"
        lines.append(line)
    failed = sum(c.status == FAIL for c in checks)
    warned = sum(c.status == WARN for c in checks)
    lines.append(
        f"{failed} failed, {warned} warning(s)" if failed else f"all required checks passed, {warned} warning(s)"
    )
    return "\n".join(lines)


__all__ = ["Check", "OpenReach", "Reach", "diagnose", "render", "report"]
