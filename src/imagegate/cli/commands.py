"""The operator's command line: `imagegate serve|worker|init|accounts|credit|keys|prices|routes|samples|margin|costs`.

Every command that creates or shows something accepts `--json` and then prints exactly one JSON
object. Commands call the service layer, never the database.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import click

from .. import __version__
from ..config import Settings, load_settings
from ..domain.errors import GatewayError
from ..domain.safe_url import safe_url
from ..service.operator.admin import AdminService, bootstrap_first_run
from ..service.operator.budgets import read_budget
from ..service.operator.doctor import diagnose, render, report
from ..service.operator.samples import PARAMETERS
from ..wiring import (
    check_output_screening,
    check_provenance,
    check_storage,
    open_admin,
    open_costs,
    open_doctor,
    open_margin,
    open_route_health,
    open_samples,
)
from .tour import command_name, tour

S = TypeVar("S")

json_option = click.option("--json", "as_json", is_flag=True, help="print exactly one JSON object")


def _service_call(
    open_service: Callable[[Settings], AbstractAsyncContextManager[S]],
    fn: Callable[[S], Awaitable[dict[str, Any]]],
    settings: Settings | None = None,
    as_json: bool | None = None,
) -> dict[str, Any]:
    """Run `fn` on a service the command opens for itself; a refusal prints its message (or, with
    --json, its error body: `as_json`, else read from the command line) and exits 1, not a traceback."""

    async def run() -> dict[str, Any]:
        async with open_service(settings or load_settings()) as service:
            return await fn(service)

    try:
        return asyncio.run(run())
    except GatewayError as exc:
        wants_json = "--json" in sys.argv if as_json is None else as_json
        click.echo(json.dumps(exc.body()) if wants_json else f"error: {exc.message}", err=True)
        sys.exit(1)


def _admin_call(
    fn: Callable[[AdminService], Awaitable[dict[str, Any]]], settings: Settings | None = None
) -> dict[str, Any]:
    return _service_call(open_admin, fn, settings)


def _emit(result: dict[str, Any], as_json: bool, human: str) -> None:
    click.echo(json.dumps(result) if as_json else human)


@click.group()
@click.version_option(__version__, prog_name="imagegate")
def main() -> None:
    """imagegate: an OpenAI-compatible image generation gateway."""


@main.command()
@click.option("--host", default=None, help="address to bind (default IMAGEGATE_HOST or 127.0.0.1)")
@click.option("--port", default=None, type=int, help="port (default IMAGEGATE_PORT or 8000)")
@click.option("--workers", default=1, show_default=True, type=int, help="worker processes")
@click.option(
    "--backlog",
    default=16384,
    show_default=True,
    type=int,
    help="connections the kernel may queue (capped by somaxconn)",
)
def serve(host: str | None, port: int | None, workers: int, backlog: int) -> None:
    """Start the gateway (creates / migrates the database first)."""
    import uvicorn

    from ..asgi import create_app
    from ..http.connections import ConnectionPolicy, install

    given = {"IMAGEGATE_HOST": host, "IMAGEGATE_PORT": None if port is None else str(port)}
    settings = load_settings({**os.environ, **{name: value for name, value in given.items() if value is not None}})
    node = settings.node
    first = prepare_serving(settings)
    click.echo(
        tour(
            version=__version__,
            data_dir=node.data_dir,
            database=None if settings.database.embedded else safe_url(settings.database.url),
            base_url=node.base_url(),
            first_run=first if first.get("key") else None,
            command=command_name(),
        )
    )
    click.echo(f"Serving on {node.base_url()}", nl=True)
    sys.stdout.flush()
    options: dict[str, Any] = {
        "host": node.host,
        "port": node.port,
        "log_level": settings.logs.level,
        "access_log": False,
        "http": install(ConnectionPolicy.from_settings(settings.http)),
        "loop": "uvloop",
        "timeout_keep_alive": max(1, int(settings.http.keepalive_timeout_seconds)),
        "backlog": backlog,
    }
    if workers > 1:
        # Workers build their own app from the environment: pass the CLI's choices down that way.
        os.environ["IMAGEGATE_HOST"], os.environ["IMAGEGATE_PORT"] = node.host, str(node.port)
        if settings.logs.metrics and settings.metrics_dir is None:  # the workers' metrics, added up at a scrape
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="imagegate-metrics-")
        uvicorn.run("imagegate.asgi:app_from_env", factory=True, workers=workers, **options)
    else:
        uvicorn.run(create_app(settings), **options)


@main.command()
def worker() -> None:
    """Run async jobs, send webhooks and sweep, serving no HTTP (beside `IMAGEGATE_NODE_ROLE=api` nodes).

    Stops on SIGTERM or SIGINT; a job still running is queued again with its hold.
    """
    from ..node import run_worker

    settings = load_settings()
    check_node(settings)
    asyncio.run(run_worker(settings))


def prepare_serving(settings: Settings) -> dict[str, Any]:
    """What `serve` does before the app starts (the in-process test tier does the same): refuse an image
    store, C2PA credentials or an output screen that cannot be used, create or migrate the database, and on an empty one make the first
    account's test key, which the tour prints ({} when there was nothing to make)."""
    check_node(settings)
    return _admin_call(_bootstrap, settings)


def check_node(settings: Settings) -> None:
    """Refuse to start a node (`serve`, `worker`), saying why, when its image store, C2PA credentials
    or output screen cannot be used."""
    check_store(settings)
    check_signing(settings)
    try:
        check_output_screening(settings)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from exc


def check_store(settings: Settings) -> None:
    """Refuse to start, with a message naming the bucket, when the image store cannot be used."""
    try:
        asyncio.run(check_storage(settings))
    except GatewayError as exc:
        raise click.ClickException(exc.message) from exc
    except ValueError as exc:  # a storage URL or URL mode that cannot work
        raise click.ClickException(str(exc)) from exc


def check_signing(settings: Settings) -> str:
    """Refuse to start, naming the setting and the file, when the C2PA credentials cannot sign; on a
    first start this makes the gateway's own chain in the data dir."""
    try:
        return check_provenance(settings)
    except ValueError as exc:  # CredentialsError: a file that cannot be read or used
        raise click.ClickException(f"cannot sign C2PA manifests: {exc}") from exc


async def _bootstrap(admin: AdminService) -> dict[str, Any]:
    return await bootstrap_first_run(admin) or {}


@main.command()
@json_option
def init(as_json: bool) -> None:
    """Create / migrate the database, make the C2PA signing chain, and print the data dir."""
    settings = load_settings()
    _admin_call(lambda admin: _noop(admin))
    signer = check_signing(settings)
    _emit(
        {
            "data_dir": str(settings.node.data_dir),
            "database": safe_url(settings.database.url),
            "c2pa_signer": signer,
        },
        as_json,
        str(settings.node.data_dir),
    )


async def _noop(_admin: AdminService) -> dict[str, Any]:
    return {}


@main.group()
def accounts() -> None:
    """Create and disable accounts."""


@accounts.command("create")
@click.argument("name")
@click.option("--allow-duplicate", is_flag=True, help="create it even if another account has this name")
@json_option
def accounts_create(name: str, allow_duplicate: bool, as_json: bool) -> None:
    """Create an account.

    A name already in use is refused unless --allow-duplicate is given.
    """
    result = _admin_call(lambda admin: admin.accounts.create(name, allow_duplicate=allow_duplicate))
    _emit(result, as_json, f"{result['id']}  {result['name']}")


@accounts.command("disable")
@click.argument("account_id")
@json_option
def accounts_disable(account_id: str, as_json: bool) -> None:
    """Disable an account (its keys stop working)."""
    result = _admin_call(lambda admin: admin.accounts.set_disabled(account_id, True))
    _emit(result, as_json, f"{result['id']} disabled")


@accounts.command("enable")
@click.argument("account_id")
@json_option
def accounts_enable(account_id: str, as_json: bool) -> None:
    """Enable a disabled account."""
    result = _admin_call(lambda admin: admin.accounts.set_disabled(account_id, False))
    _emit(result, as_json, f"{result['id']} enabled")


@accounts.command("show")
@click.argument("account_id")
@json_option
def accounts_show(account_id: str, as_json: bool) -> None:
    """Show one account: balance, held credit, limits."""
    result = _admin_call(lambda admin: admin.accounts.get(account_id))
    _emit(result, as_json, f"{result['id']}  balance {result['balance_micros']} micros, held {result['held_micros']}")


@accounts.command("list")
@json_option
def accounts_list(as_json: bool) -> None:
    """List every account with its balance."""
    result = _admin_call(lambda admin: admin.accounts.all())
    lines = [
        f"{a['id']}  {a['name']:20} balance {a['balance_micros']:>12}  held {a['held_micros']:>10}"
        for a in result["data"]
    ]
    _emit(result, as_json, "\n".join(lines))


@accounts.command("limits")
@click.argument("account_id")
@click.option("--rpm", default=None, type=int, help="requests per minute for keys without their own")
@click.option("--ipm", default=None, type=int, help="images per minute for keys without their own")
@click.option("--max-in-flight", default=None, type=int, help="requests the account may have running at once")
@click.option("--user-budget-usd", default=None, help="what each end user (`user` / `safety_identifier`) may spend")
@click.option("--user-budget-period", default=None, help="day or month (UTC; default day)")
@click.option("--no-user-budget", is_flag=True, help="remove the end-user budget")
@json_option
def accounts_limits(
    account_id: str,
    rpm: int | None,
    ipm: int | None,
    max_in_flight: int | None,
    user_budget_usd: str | None,
    user_budget_period: str | None,
    no_user_budget: bool,
    as_json: bool,
) -> None:
    """Set the account's default limits.

    An option left out means no limit; the end-user budget is kept unless --user-budget-usd or
    --no-user-budget is given.
    """
    _check_budget_options(
        user_budget_usd,
        user_budget_period,
        no_user_budget,
        "--user-budget-usd",
        "--user-budget-period",
        "--no-user-budget",
    )

    async def action(admin: AdminService) -> dict[str, Any]:
        result = await admin.accounts.set_limits(account_id, rpm=rpm, ipm=ipm, max_in_flight=max_in_flight)
        if user_budget_usd is not None or no_user_budget:
            budget = None if no_user_budget else read_budget(user_budget_usd, user_budget_period, "user_")
            await admin.budgets.set_user_budget(account_id, budget)
        return {**result, "budgets": await admin.budgets.account(account_id)}

    result = _admin_call(action)
    user = result["budgets"]["user_budget"]
    per_user = f"{user['budget_micros']} micros per {user['period']}" if user else "none"
    _emit(
        result,
        as_json,
        f"{result['id']}  rpm {result['rpm']}, ipm {result['ipm']}, in flight {result['max_in_flight']}, "
        f"end-user budget {per_user}",
    )


def _check_budget_options(
    usd: str | None, period: str | None, remove: bool, usd_option: str, period_option: str, remove_option: str = ""
) -> None:
    """Refuse a budget given together with its removal, or a period without an amount."""
    if remove and (usd is not None or period is not None):
        raise click.UsageError(f"give either {usd_option} or {remove_option}")
    if period is not None and usd is None:
        raise click.UsageError(f"{period_option} needs {usd_option}")


@accounts.command("alerts")
@click.argument("account_id")
@click.option("--low-balance-usd", default=None, help="send account.balance_low when the balance falls below this")
@click.option("--no-low-balance", is_flag=True, help="stop the low-balance alert")
@json_option
def accounts_alerts(account_id: str, low_balance_usd: str | None, no_low_balance: bool, as_json: bool) -> None:
    """Set (or show) the account's low-balance alert.

    Alerts go to the account's webhook URL (`imagegate accounts webhook`).
    """
    if no_low_balance and low_balance_usd is not None:
        raise click.UsageError("give either --low-balance-usd or --no-low-balance")

    async def action(admin: AdminService) -> dict[str, Any]:
        if low_balance_usd is None and not no_low_balance:
            return await admin.budgets.account(account_id)
        return await admin.budgets.set_low_balance(account_id, low_balance_usd)

    result = _admin_call(action)
    _emit(
        result,
        as_json,
        f"{account_id}  low balance {result['low_balance_micros']} micros, webhook {result['webhook_url']}",
    )


@accounts.command("webhook")
@click.argument("account_id")
@click.argument("url", required=False)
@click.option("--clear", is_flag=True, help="stop sending the account's alerts")
@json_option
def accounts_webhook(account_id: str, url: str | None, clear: bool, as_json: bool) -> None:
    """Send the account's alerts (account.balance_low, key.budget_reached) to URL, signed.

    Prints the signing secret, only this once; setting a URL again makes a new secret.
    """
    _set_or_clear_webhook(
        account_id,
        url,
        clear,
        as_json,
        lambda admin: admin.budgets.set_webhook(account_id, url),
        lambda admin: admin.budgets.clear_webhook(account_id),
    )


def _set_or_clear_webhook(
    subject: str,
    url: str | None,
    clear: bool,
    as_json: bool,
    set_url: Callable[[AdminService], Awaitable[dict[str, Any]]],
    clear_url: Callable[[AdminService], Awaitable[dict[str, Any]]],
) -> None:
    """A key's or an account's webhook command: set the URL (printing the secret once) or clear it."""
    if clear == (url is not None):
        raise click.UsageError("give either a URL or --clear")
    if clear:
        _emit(_admin_call(clear_url), as_json, f"{subject}  webhook cleared")
        return
    result = _admin_call(set_url)
    _emit(
        result,
        as_json,
        f"{subject}  {result['webhook_url']}\nsecret {result['secret']}\n(the secret is shown only this once)",
    )


@accounts.command("safety")
@click.argument("account_id")
@click.option("--block-terms", default="", help="comma-separated extra terms that block this account's prompts")
@click.option("--block-categories", default="", help="comma-separated policy categories to block instead of flag")
@json_option
def accounts_safety(account_id: str, block_terms: str, block_categories: str, as_json: bool) -> None:
    """Make screening stricter for one account.

    Replaces the account's previous additions.
    """
    terms = [t for t in block_terms.split(",") if t.strip()]
    categories = [c.strip() for c in block_categories.split(",") if c.strip()]
    result = _admin_call(
        lambda admin: admin.accounts.set_safety(account_id, block_terms=terms, block_categories=categories)
    )
    _emit(result, as_json, f"{result['id']}  safety {json.dumps(result['safety'])}")


@main.group()
def blocks() -> None:
    """The safety audit log."""


@blocks.command("list")
@click.option("--account", "account_id", default=None, help="only this account's")
@click.option("--include-flags", is_flag=True, help="also prompts that were flagged but served")
@click.option("--limit", default=100, show_default=True, type=int)
@json_option
def blocks_list(account_id: str | None, include_flags: bool, limit: int, as_json: bool) -> None:
    """Blocked (and flagged) requests, newest first."""
    result = _admin_call(
        lambda admin: admin.reports.blocks(account_id=account_id, include_flags=include_flags, limit=limit)
    )
    lines = [
        f"{e['created_at']}  {e['action']:5} {e['stage']:8} {e['category'] or '-':24} {e['request_id']}  "
        f"{e['account_id']} {e['key_id']}"
        for e in result["data"]
    ]
    _emit(result, as_json, "\n".join(lines) or "no blocks recorded")


@main.group()
def credit() -> None:
    """Top up or adjust credit (each a ledger entry with a reason)."""


@credit.command("add", context_settings={"ignore_unknown_options": True})
@click.argument("account_id")
@click.argument("amount_usd")
@click.option("--reason", required=True, help="recorded with the ledger entry")
@json_option
def credit_add(account_id: str, amount_usd: str, reason: str, as_json: bool) -> None:
    """Top up an account by AMOUNT_USD (a ledger entry).

    The amount must be positive; to take credit away use `imagegate credit adjust`.
    """
    if amount_usd.strip().startswith("-"):
        raise click.UsageError(
            f"a top-up must be positive; to take credit away use\n"
            f"  imagegate credit adjust {account_id} {amount_usd} --reason {json.dumps(reason)}"
        )
    result = _admin_call(lambda admin: admin.ledger.add_credit(account_id, amount_usd, reason))
    _emit(result, as_json, f"{result['id']}  balance {result['balance_micros']} micros")


@credit.command("adjust", context_settings={"ignore_unknown_options": True})
@click.argument("account_id")
@click.argument("amount_usd")
@click.option("--reason", required=True, help="recorded with the ledger entry")
@json_option
def credit_adjust(account_id: str, amount_usd: str, reason: str, as_json: bool) -> None:
    """Correct the balance by AMOUNT_USD (may be negative)."""
    result = _admin_call(lambda admin: admin.ledger.adjust_credit(account_id, amount_usd, reason))
    _emit(result, as_json, f"{result['id']}  balance {result['balance_micros']} micros")


@main.group()
def keys() -> None:
    """Create and revoke API keys."""


@keys.command("create")
@click.argument("account_id")
@click.option("--test", is_flag=True, help="a free test-mode key: every model answers with offline previews")
@click.option("--models", default=None, help="comma-separated allowlist of models")
@click.option("--rpm", default=None, type=int, help="requests per minute (default: the account's)")
@click.option("--ipm", default=None, type=int, help="images per minute (default: the account's)")
@click.option("--budget-usd", default=None, help="what the key may spend per period (default: no budget)")
@click.option("--budget-period", default=None, help="day or month (UTC; default day)")
@json_option
def keys_create(
    account_id: str,
    test: bool,
    models: str | None,
    rpm: int | None,
    ipm: int | None,
    budget_usd: str | None,
    budget_period: str | None,
    as_json: bool,
) -> None:
    """Create an API key (printed only this once).

    A live key unless --test; a test key is free and answers every model with offline previews.
    """
    allowed = [m.strip() for m in models.split(",") if m.strip()] if models else None
    _check_budget_options(budget_usd, budget_period, False, "--budget-usd", "--budget-period")

    async def action(admin: AdminService) -> dict[str, Any]:
        budget = read_budget(budget_usd, budget_period) if budget_usd is not None else None
        return await admin.keys.create(account_id, test=test, models=allowed, rpm=rpm, ipm=ipm, budget=budget)

    result = _admin_call(action)
    _emit(result, as_json, f"{result['id']}  {result['key']}\n(the key is shown only this once)")


@keys.command("revoke")
@click.argument("key_id")
@json_option
def keys_revoke(key_id: str, as_json: bool) -> None:
    """Revoke a key (refused from the next request on)."""
    result = _admin_call(lambda admin: admin.keys.revoke(key_id))
    _emit(result, as_json, f"{result['id']} revoked")


@keys.command("list")
@click.argument("account_id")
@json_option
def keys_list(account_id: str, as_json: bool) -> None:
    """List an account's keys (prefixes only, never the keys)."""
    result = _admin_call(lambda admin: admin.keys.list_for(account_id))
    lines = [
        f"{k['id']}  {k['prefix']}…  {k['mode']}  {'revoked' if k['revoked_at'] else 'active'}" for k in result["data"]
    ]
    _emit(result, as_json, "\n".join(lines))


@keys.command("show")
@click.argument("key_id")
@json_option
def keys_show(key_id: str, as_json: bool) -> None:
    """Show one key: its mode, limits and webhook URL (never the key nor the webhook secret)."""
    result = _admin_call(lambda admin: admin.keys.get(key_id))
    state = "revoked" if result["revoked_at"] else "active"
    _emit(
        result,
        as_json,
        f"{result['id']}  {result['prefix']}…  {result['mode']}  {state}  webhook {result['webhook_url']}",
    )


@keys.command("budget")
@click.argument("key_id")
@click.option("--budget-usd", default=None, help="what the key may spend per period")
@click.option("--budget-period", default=None, help="day or month (UTC; default day)")
@click.option("--clear", is_flag=True, help="remove the key's budget")
@json_option
def keys_budget(key_id: str, budget_usd: str | None, budget_period: str | None, clear: bool, as_json: bool) -> None:
    """Set, clear or show the key's budget, with what this period has spent and holds."""
    _check_budget_options(budget_usd, budget_period, clear, "--budget-usd", "--budget-period", "--clear")

    async def action(admin: AdminService) -> dict[str, Any]:
        if budget_usd is None and not clear:
            return await admin.keys.get(key_id)
        return await admin.keys.set_budget(key_id, read_budget(budget_usd, budget_period) if budget_usd else None)

    result = _admin_call(action)
    budget = result["budget"]
    shown = (
        f"{budget['budget_micros']} micros per {budget['period']}: spent {budget['spent_micros']}, "
        f"held {budget['held_micros']}, resets {budget['resets_at']}"
        if budget
        else "no budget"
    )
    _emit(result, as_json, f"{key_id}  {shown}")


@keys.command("webhook")
@click.argument("key_id")
@click.argument("url", required=False)
@click.option("--clear", is_flag=True, help="stop sending this key's webhooks")
@json_option
def keys_webhook(key_id: str, url: str | None, clear: bool, as_json: bool) -> None:
    """Send the key's finished async jobs to URL, signed (Standard Webhooks).

    Prints the signing secret, only this once; setting a URL again makes a new secret.
    """
    _set_or_clear_webhook(
        key_id,
        url,
        clear,
        as_json,
        lambda admin: admin.webhooks.set_url(key_id, url),
        lambda admin: admin.webhooks.clear_url(key_id),
    )


@main.group()
def webhooks() -> None:
    """Webhook messages of async jobs and their delivery attempts."""


@webhooks.command("deliveries")
@click.option("--account", "account_id", default=None, help="only this account's")
@click.option("--status", default=None, type=click.Choice(["pending", "delivered", "failed"]))
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100))
@click.option("--after", default=None, help="the last message id of the previous page")
@json_option
def webhooks_deliveries(
    account_id: str | None, status: str | None, limit: int, after: str | None, as_json: bool
) -> None:
    """Webhook messages, newest first, with every attempt."""
    result = _admin_call(
        lambda admin: admin.webhooks.deliveries(account_id=account_id, status=status, limit=str(limit), after=after)
    )
    lines = [
        f"{m['created_at']}  {m['id']}  {m['type']:20} {m['status']:9} {len(m['attempts'])} attempt(s)  {m['job_id']}"
        for m in result["data"]
    ]
    _emit(result, as_json, "\n".join(lines) or "no webhook messages")


@main.command()
@click.option("--start", default=None, help="unix seconds or ISO 8601 (default: 30 days before --end)")
@click.option("--end", default=None, help="unix seconds or ISO 8601 (default: now)")
@click.option("--account", "account_id", default=None, help="one account only")
@json_option
def usage(start: str | None, end: str | None, account_id: str | None, as_json: bool) -> None:
    """Usage records across accounts, with totals."""
    from ..service.timerange import time_range

    first, last = time_range(start, end)
    result = _admin_call(lambda admin: admin.reports.usage(first, last, account_id))
    totals = result["totals"]
    _emit(result, as_json, f"{totals['requests']} requests, {totals['images']} images, {totals['cost_micros']} micros")


@main.group()
def ledger() -> None:
    """Check the ledger, and read an account's entries."""


@ledger.command("history")
@click.argument("account_id")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 500))
@click.option("--after", default=None, help="the last entry id of the previous page")
@json_option
def ledger_history(account_id: str, limit: int, after: str | None, as_json: bool) -> None:
    """An account's ledger entries, newest first: top-ups, adjustments, holds, captures, releases, refunds."""
    result = _admin_call(lambda admin: admin.ledger.history(account_id, str(limit), after))
    lines = [
        f"{e['created_at']}  {e['id']}  {e['kind']:10} {e['amount_micros']:>12} {e['held_delta_micros']:>12}  {e['reason']}"
        for e in result["data"]
    ]
    if result["has_more"]:
        lines.append(f"(more: --after {result['last_id']})")
    _emit(result, as_json, "\n".join(lines) or "no entries")


@ledger.command("verify")
@json_option
def ledger_verify(as_json: bool) -> None:
    """Prove every balance equals the sum of its entries, and no failed request or job kept a charge.

    Exits 1 when one does not (docs/ledger.md lists the checks).
    """
    result = _admin_call(lambda admin: admin.ledger.verify())
    human = (
        f"ok: {result['accounts_checked']} accounts"
        if result["ok"]
        else "\n".join(f"{p['account_id']}: {p['problem']}" for p in result["problems"])
    )
    _emit(result, as_json, human)
    if not result["ok"]:
        sys.exit(1)


@main.group()
def holds() -> None:
    """Credit holds."""


@holds.command("sweep")
@json_option
def holds_sweep(as_json: bool) -> None:
    """Release the holds of requests that died with their node.

    `serve` also does this every minute.
    """
    result = _admin_call(lambda admin: admin.ledger.sweep_holds())
    _emit(result, as_json, f"released {result['released']} expired hold(s)")


@main.group()
def prices() -> None:
    """Show and set live prices."""


@prices.command("set")
@click.argument("model")
@click.option("--quality", default=None, help="quality level (omit for models without one)")
@click.option("--size", required=True)
@click.option("--usd", "amount_usd", required=True, help="price per delivered image")
@json_option
def prices_set(model: str, quality: str | None, size: str, amount_usd: str, as_json: bool) -> None:
    """Set the live price of MODEL at one quality and size."""
    result = _admin_call(lambda admin: admin.prices.set(model, quality, size, amount_usd))
    _emit(result, as_json, f"{result['model']} {result['quality']} {result['size']}: {result['micros']} micros")


@prices.command("list")
@json_option
def prices_list(as_json: bool) -> None:
    """List every model's live prices (micros per image)."""
    result = _admin_call(lambda admin: admin.prices.all())
    lines = [
        f"{model:22} {quality:8} {size:10} {micros:>10}"
        for model, card in result["models"].items()
        for quality, row in card.items()
        for size, micros in row.items()
    ]
    _emit(result, as_json, "\n".join(lines))


@main.command()
@click.option("--offline", is_flag=True, help="skip the checks that call the network (public URL, upstreams)")
@click.option("--timeout", default=5.0, show_default=True, type=float, help="seconds each network check may take")
@json_option
def doctor(offline: bool, timeout: float, as_json: bool) -> None:
    """Check the setup: one line per check, with the fix when one fails.

    Exits 1 when a required check fails.
    """
    checks = asyncio.run(diagnose(load_settings, open_doctor, offline=offline, timeout=timeout))
    result = report(checks)
    _emit(result, as_json, render(checks))
    if not result["ok"]:
        sys.exit(1)


@main.group()
def routes() -> None:
    """Show upstream routes and their health."""


@routes.command("list")
@json_option
def routes_list(as_json: bool) -> None:
    """Each route: configured?, circuit, latency, error rate."""

    async def read_report() -> dict[str, Any]:
        async with open_route_health(load_settings()) as health:
            return await health.report()

    result = asyncio.run(read_report())
    lines = [
        f"{'model':22} {'route':12} {'provider':18} {'ok?':4} {'circuit':9} {'calls':>5} {'err%':>7} {'p50 ms':>7}"
    ]
    for row in result["routes"]:
        recent = row["recent"]
        rate = "-" if recent["error_rate"] is None else f"{recent['error_rate']:.0%}"
        p50 = "-" if recent["latency_ms_p50"] is None else str(recent["latency_ms_p50"])
        lines.append(
            f"{row['model']:22} {row['route']:12} {row['provider']:18} {'yes' if row['configured'] else 'no':4} "
            f"{row['circuit']:9} {recent['calls']:>5} {rate:>7} {p50:>7}"
        )
    if result.get("error"):
        lines.append(f"warning: {result['error']}")
    _emit(result, as_json, "\n".join(lines))


@main.command()
@click.option("--start", default=None, help="unix seconds or ISO 8601, UTC (default: 30 days before --end)")
@click.option(
    "--end", default=None, help="unix seconds or ISO 8601, UTC (default: now; at most 366 days after --start)"
)
@json_option
def margin(start: str | None, end: str | None, as_json: bool) -> None:
    """Revenue, upstream cost and margin per model and route, with totals."""
    from ..service.operator.margin import margin_window

    result = _service_call(open_margin, lambda report: report.report(*margin_window(start, end)), as_json=as_json)
    _emit(result, as_json, _margin_table(result))


def _margin_table(result: dict[str, Any]) -> str:
    """One line per model and route, then the totals; money in USD, exact."""
    from ..service.images.billing import usd

    header = f"{'model':24} {'route':12} {'requests':>8} {'images':>7} {'lost':>5} {'revenue':>14} {'upstream':>14} {'margin':>14} {'est.':>5}"
    lines = [f"margin {result['start']} to {result['end']}", header]
    for line in [*result["data"], {"model": "total", "route": "", **result["totals"]}]:
        lines.append(
            f"{line['model']:24} {line['route']:12} {line['requests']:>8} {line['images']:>7} {line['lost_images']:>5} "
            f"{usd(line['revenue_micros']):>14} {usd(line['upstream_cost_micros']):>14} "
            f"{usd(line['margin_micros']):>14} {line['estimated_share']:>5.0%}"
        )
    return "\n".join(lines)


@main.group()
def costs() -> None:
    """What the upstreams charge: each route's cost sheet (the margin report's cost side)."""


@costs.command("list")
@json_option
def costs_list(as_json: bool) -> None:
    """Every route's live upstream cost sheet, and the items set over the catalog's."""
    result = _service_call(open_costs, lambda c: c.listing())
    lines = []
    for route in result["data"]:
        sheet = route["sheet"]
        tokens = sheet and {k: v for k, v in sheet["tokens_micros_per_million"].items() if v}
        per_image = sheet and {q: dict(row) for q, row in sheet["per_image_micros"].items()}
        lines.append(f"{route['model']:24} {route['route']:12} tokens {tokens or '-'}  per image {per_image or '-'}")
        lines += [f"{'':37} set: {item} = {micros}" for item, micros in route["overrides"].items()]
    _emit(result, as_json, "\n".join(lines))


@costs.command("set")
@click.argument("model")
@click.argument("route")
@click.argument("item")
@click.argument("usd")
@json_option
def costs_set(model: str, route: str, item: str, usd: str, as_json: bool) -> None:
    """Set ITEM of ROUTE's cost sheet: `tokens.KIND` in USD per million tokens, `per_image.QUALITY.SIZE` in USD
    per image (SIZE `*` for any other). Records written from then on are costed with it."""
    result = _service_call(open_costs, lambda c: c.set(model, route, item, usd))
    _emit(result, as_json, f"{result['model']} {result['route']} {result['item']} = {result['micros']} micros")


def _parameter(text: str) -> tuple[str, Any]:
    """`KEY=VALUE`; a VALUE that reads as JSON (a number, true) is that value, else the text."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise click.BadParameter(f"{text!r} is not KEY=VALUE")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


@main.group()
def samples() -> None:
    """The examples gallery of the model pages."""


@samples.command("add")
@click.argument("model")
@click.argument("file", type=click.File("rb"))
@click.option("--prompt", required=True, help="the prompt that made the image (shown with it)")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help=f"a parameter of the request that made it ({', '.join(PARAMETERS)}); size defaults to the image's own",
)
@json_option
def samples_add(model: str, file: Any, prompt: str, params: tuple[str, ...], as_json: bool) -> None:
    """Show FILE (PNG, JPEG or WEBP) on MODEL's page, with its prompt and parameters."""
    data = file.read()
    fields = dict(_parameter(p) for p in params)
    result = _service_call(open_samples, lambda s: s.add(model, data, prompt, fields))
    _emit(result, as_json, f"{result['id']}: {result['model']} {result['width']}x{result['height']} {result['url']}")


@samples.command("list")
@click.option("--model", default=None, help="only this model's")
@json_option
def samples_list(model: str | None, as_json: bool) -> None:
    """Every sample, by model."""
    result = _service_call(open_samples, lambda s: s.listing(model))
    lines = [f"{s['id']}  {s['model']:22} {s['width']}x{s['height']}  {s['prompt'][:60]}" for s in result["data"]]
    _emit(result, as_json, "\n".join(lines) or "no samples")


@samples.command("remove")
@click.argument("sample_id")
@json_option
def samples_remove(sample_id: str, as_json: bool) -> None:
    """Take a sample off its model's page (its image is deleted)."""
    result = _service_call(open_samples, lambda s: s.remove(sample_id))
    _emit(result, as_json, f"removed {result['id']}")


if __name__ == "__main__":  # pragma: no cover
    main()
