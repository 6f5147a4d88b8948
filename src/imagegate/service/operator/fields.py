"""The admin API's request fields, declared once: its endpoints read bodies with them, `AdminService`
checks the values it is given (from the API, the CLI or the admin pages) with them, and the API
document describes them, with the catalog's names where a field takes a model."""

from __future__ import annotations

from ...domain.budgets import PERIODS
from ...domain.catalog import STANDARD_QUALITY, Catalog, Model
from ...domain.fields import Field
from ...domain.money import MAX_AMOUNT_MICROS, MAX_PRICE_MICROS, Sign
from ...domain.webhook_url import MAX_URL_CHARS, URL_FORM

MAX_NAME_CHARS = 200  # accounts.name is VARCHAR(200)
MAX_REASON_CHARS = 2000
MAX_LIMIT = 1_000_000_000  # the limit columns are 32-bit INTEGER on PostgreSQL

ACCOUNT_NAME = Field(
    "name", "string", "a label for the account", required=True, non_blank=True, max_chars=MAX_NAME_CHARS
)
REASON = Field(
    "reason", "string", "why: kept with the ledger entry", required=True, non_blank=True, max_chars=MAX_REASON_CHARS
)


def amount(sign: Sign, doc: str, maximum: int = MAX_AMOUNT_MICROS) -> Field:
    return Field("amount_usd", "amount", doc, required=True, sign=sign, maximum=maximum)


NEW_ACCOUNT = (ACCOUNT_NAME,)
CREDIT = (amount("positive", "US dollars to add"), REASON)
ADJUSTMENT = (amount("nonzero", "US dollars to add, or (negative) to take away"), REASON)

WEBHOOK = (
    Field(
        "webhook_url",
        "string",
        "where the key's finished async jobs are sent: https:// (http:// only to a loopback host), "
        "no credentials, no fragment; a public gateway refuses addresses inside the network",
        required=True,
        max_chars=MAX_URL_CHARS,
        form=URL_FORM,
    ),
)


def budget(prefix: str, whose: str, *, required: bool = True) -> tuple[Field, ...]:
    """A budget: US dollars per UTC day or month."""
    return (
        Field(
            f"{prefix}budget_usd",
            "amount",
            f"what {whose} may spend per period, in US dollars; holds of requests in flight count against it",
            required=required,
            sign="positive",
            maximum=MAX_AMOUNT_MICROS,
        ),
        Field(
            f"{prefix}budget_period", "string", "the UTC calendar period it resets on", choices=PERIODS, default="day"
        ),
    )


KEY_BUDGET = budget("", "the key")
USER_BUDGET = budget("", "each end user of the account (by `safety_identifier` / `user`, or the operator's header)")
LOW_BALANCE = (
    Field(
        "threshold_usd",
        "amount",
        "`account.balance_low` is sent once when a capture takes the balance below this (again after a top-up above it)",
        required=True,
        sign="positive",
        maximum=MAX_AMOUNT_MICROS,
    ),
)
ACCOUNT_WEBHOOK = (
    Field(
        "webhook_url",
        "string",
        "where the account's alerts (account.balance_low, key.budget_reached) are sent: the rules of a key's webhook URL",
        required=True,
        max_chars=MAX_URL_CHARS,
        form=URL_FORM,
    ),
)


def model_names(catalog: Catalog | None, *, priced: bool = False) -> tuple[str, ...]:
    """Every id and alias of the catalog (`priced`: of the models that have a price card)."""
    if catalog is None:
        return ()
    return tuple(name for model in catalog if not (priced and model.free) for name in (model.id, *model.aliases))


def new_key(catalog: Catalog | None = None) -> tuple[Field, ...]:
    """A key's options; with the catalog, `models` names its models."""
    models = Field("models", "string", choices=model_names(catalog))
    return (
        Field("test", "boolean", "a test-mode key: free previews, never billed", default=False),
        Field("models", "array", "the models the key may use (default: every model)", items=models),
        Field("rpm", "integer", "requests per minute (default: unlimited)", minimum=1, maximum=MAX_LIMIT),
        Field("ipm", "integer", "images per minute (default: unlimited)", minimum=1, maximum=MAX_LIMIT),
        *budget("", "the key", required=False),
    )


PRICE_AMOUNT = amount("non_negative", "US dollars per image", MAX_PRICE_MICROS)


def price(catalog: Catalog | None = None) -> tuple[Field, ...]:
    """The live rate of one image of `model` at `quality` x `size`; the next request pays it."""
    return (
        Field(
            "model", "string", "a priced model's id or alias", required=True, choices=model_names(catalog, priced=True)
        ),
        Field("quality", "string", f"a quality of its price card (`{STANDARD_QUALITY}` for a model without qualities)"),
        Field("size", "string", "one of the model's sizes", required=True),
        PRICE_AMOUNT,
    )


def price_for(model: Model) -> tuple[Field, ...]:
    """`price()` as `model` takes it: its names, the qualities of its card, its sizes."""
    qualities = tuple(model.prices)
    return (
        Field("model", "string", required=True, choices=(model.id, *model.aliases)),
        Field("quality", "string", required=STANDARD_QUALITY not in qualities, choices=qualities),
        Field("size", "string", required=True, choices=model.capabilities.sizes),
        PRICE_AMOUNT,
    )


__all__ = [
    "ACCOUNT_NAME",
    "ACCOUNT_WEBHOOK",
    "ADJUSTMENT",
    "CREDIT",
    "KEY_BUDGET",
    "LOW_BALANCE",
    "MAX_LIMIT",
    "MAX_NAME_CHARS",
    "MAX_REASON_CHARS",
    "NEW_ACCOUNT",
    "PRICE_AMOUNT",
    "REASON",
    "USER_BUDGET",
    "WEBHOOK",
    "budget",
    "model_names",
    "new_key",
    "price",
    "price_for",
]
