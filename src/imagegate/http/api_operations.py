"""Every operation of the JSON API, as data: one `ApiOperation` row per method and path.

The API document (`http/openapi.py`) is rendered from these rows, the request fields they name
(declared where they are checked: `domain/request.py`, `service/operator/fields.py`) and the answer
shapes (`domain/shapes.py`). A new route is its endpoint plus one row here; the statuses it may
answer follow from what it takes (a key, a body, a path id) plus the ones it names.
`tests/e2e/test_openapi.py` fails while a served route has no row, and schemathesis checks that the
server answers as the rows say.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

from ..domain import shapes
from ..domain.catalog import Catalog, Model
from ..domain.chat_request import DOCUMENTED_RULES, chat_fields, chat_variants
from ..domain.edit_request import edit_fields
from ..domain.fields import Field, Rule
from ..domain.ids import SUFFIX
from ..domain.image_library import DEFAULT_LIMIT, MAX_LIMIT, MAX_MODEL_CHARS, MAX_QUERY_CHARS, MAX_QUERY_WORDS
from ..domain.openai_fields import model_rules
from ..domain.request import RULES, generation_fields
from ..domain.responses_fields import RULES as RESPONSES_RULES
from ..domain.responses_fields import responses_fields, responses_variants
from ..domain.text import MAX_ID_CHARS
from ..service.batches.batches import MAX_PAGE as MAX_BATCH_PAGE
from ..service.batches.batches import NEW_BATCH
from ..service.batches.files import UPLOAD
from ..service.images.upstream_costs import cost_item_fields, cost_item_for
from ..service.operator import fields as admin_fields
from ..service.operator.ledger import MAX_HISTORY_PAGE
from ..service.operator.margin import MAX_SPAN
from ..service.timerange import TIME_FORM
from ..service.webhooks.webhooks import MAX_PAGE, STATUSES

Auth = Literal["key", "admin", "none"]


@dataclass(frozen=True, slots=True)
class Body:
    """A request body: its fields (with the catalog's names), and where they depend on the model,
    one variant per model that `applies` to."""

    name: str
    fields: Callable[[Catalog], tuple[Field, ...]] = lambda _catalog: ()
    rules: tuple[Rule, ...] = ()
    per_model: Callable[[Model], tuple[Field, ...]] | None = None
    model_rules: Callable[[Model], tuple[Rule, ...]] = lambda _model: ()
    applies: Callable[[Model], bool] = lambda _model: True
    variants: Callable[[Model], tuple[tuple[tuple[Field, ...], tuple[Rule, ...]], ...]] | None = None
    """Several variants per model (a body that names the model in one of two places, …): their fields
    and rules; else the one of `per_model` and `model_rules`."""
    exclusive: bool = True
    """No body is of two variants (the document says `oneOf`)."""
    form: bool = False
    """multipart/form-data (text fields and `file` parts) instead of JSON."""
    required: bool = True


@dataclass(frozen=True, slots=True)
class ApiOperation:
    method: str
    path: str
    id: str
    summary: str
    tag: str
    answer: type | None
    """The 200's shape (`domain/shapes.py`); None: 204, no body."""
    auth: Auth = "key"
    body: Body | None = None
    query: tuple[Field, ...] = ()
    path_doc: dict[str, str] = field(default_factory=dict)
    """What each `{name}` of the path is (an id: at most `MAX_ID_CHARS`, storable text)."""
    errors: tuple[int, ...] = ()
    """Statuses beyond those its key, body and path imply."""
    idempotent: bool = False
    """An `Idempotency-Key` replays it (and it answers the cost header)."""
    answers_async: bool = False
    """`Prefer: respond-async` makes it a job (202)."""
    streams: bool = False
    """`stream: true` answers server-sent events."""
    media: tuple[str, ...] = ("application/json",)

    def statuses(self) -> tuple[int, ...]:
        implied = {"key": (401, 403), "admin": (401, 404, 429), "none": ()}[self.auth]
        if self.body is not None or self.query or self.path_doc:
            implied += (400,)
        if self.body is not None:
            implied += (413,)
        if self.path_doc:
            implied += (404,)
        return tuple(sorted({*implied, *self.errors, 503}))


# -- request bodies


def _images_api_body(name: str, fields: Callable[[Model | None], tuple[Field, ...]]) -> Body:
    """An Images API body: `fields` as the request checks them (with a model, narrowed to it) and the
    rules every generation and edit shares."""
    return Body(name, lambda _catalog: fields(None), rules=RULES, per_model=fields, model_rules=model_rules)


IMAGE_REQUEST = _images_api_body("ImageGenerationRequest", generation_fields)
IMAGE_EDIT = replace(
    _images_api_body("ImageEditRequest", edit_fields), applies=lambda model: model.capabilities.img2img, form=True
)
NEW_ACCOUNT = Body("NewAccount", lambda _catalog: admin_fields.NEW_ACCOUNT)
CREDIT = Body("Credit", lambda _catalog: admin_fields.CREDIT)
ADJUSTMENT = Body("Adjustment", lambda _catalog: admin_fields.ADJUSTMENT)
NEW_KEY = Body("NewKey", admin_fields.new_key, required=False)
KEY_BUDGET = Body("SetKeyBudget", lambda _catalog: admin_fields.KEY_BUDGET)
USER_BUDGET = Body("SetUserBudget", lambda _catalog: admin_fields.USER_BUDGET)
LOW_BALANCE = Body("SetLowBalance", lambda _catalog: admin_fields.LOW_BALANCE)
ACCOUNT_WEBHOOK = Body("SetAccountWebhook", lambda _catalog: admin_fields.ACCOUNT_WEBHOOK)
WEBHOOK = Body("WebhookUrl", lambda _catalog: admin_fields.WEBHOOK)
PRICE = Body("Price", admin_fields.price, per_model=admin_fields.price_for, applies=lambda model: not model.free)
UPSTREAM_COST = Body(
    "UpstreamCostItem", cost_item_fields, per_model=cost_item_for, applies=lambda model: not model.free
)
CHAT = Body("ChatImageRequest", lambda _catalog: chat_fields(), rules=DOCUMENTED_RULES, variants=chat_variants)
BATCH_FILE = Body("BatchFileUpload", lambda _catalog: UPLOAD, form=True)
NEW_BATCH_BODY = Body("BatchRequest", lambda _catalog: NEW_BATCH)
RESPONSE = Body(
    "CreateResponseRequest",
    lambda _catalog: responses_fields(),
    rules=RESPONSES_RULES,
    variants=responses_variants,
)

# -- query parameters

TIME = f"({TIME_FORM})?"  # empty: the default
START = Field("start", "string", "unix seconds or an ISO 8601 date or time (default: 30 days before `end`)", form=TIME)
END = Field("end", "string", "unix seconds or an ISO 8601 date or time (default: now)", form=TIME)
WINDOW = (START, END)
PAGE = (
    Field("limit", "integer", "messages per page", minimum=1, maximum=MAX_PAGE, default=20),
    Field("after", "string", "the `last_id` of the previous page", max_chars=MAX_ID_CHARS),
)
LIBRARY_QUERY = (
    Field(
        "query",
        "string",
        f"plain words (at most {MAX_QUERY_WORDS}): each must begin a word of the prompt or revised prompt; "
        "punctuation and operators are not syntax",
        max_chars=MAX_QUERY_CHARS,
    ),
    Field("model", "string", "only this model's images (an id or alias)", max_chars=MAX_MODEL_CHARS),
    Field("after", "string", "the `last_id` of the previous page (`img_…`)", form=f"(img_{SUFFIX})?"),
    Field("limit", "integer", "images per page", minimum=1, maximum=MAX_LIMIT, default=DEFAULT_LIMIT),
)
LEDGER_PAGE = (
    Field("limit", "integer", "entries per page", minimum=1, maximum=MAX_HISTORY_PAGE, default=20),
    Field("after", "string", "the `last_id` of the previous page (`led_…`)", form=f"(led_{SUFFIX})?"),
)
BATCH_PAGE = (
    Field("limit", "integer", "batches per page", minimum=1, maximum=MAX_BATCH_PAGE, default=20),
    Field("after", "string", "the `last_id` of the previous page (`batch_…`)", form=f"(batch_{SUFFIX})?"),
)
ACCOUNT_FILTER = Field("account_id", "string", "only this account's", max_chars=MAX_ID_CHARS)

ACCOUNT = {"account_id": "an account id (`acct_…`)"}
KEY = {"key_id": "a key id (`key_…`)"}
JOB = {"job_id": "a job id (`job_…`); another account's job is 404"}
FILE = {"suffix": "the part of the file id after `file-`; another account's file is 404"}
BATCH = {"batch_id": "a batch id (`batch_…`); another account's batch is 404"}
RESPONSE_ID = {"response_id": "a response id (`resp_…`); another account's, an expired or a deleted one is 404"}
IMAGE_ERRORS = (402, 409, 429, 451, 502, 504)

ADMIN: Auth = "admin"
NO_KEY: Auth = "none"

# One row per operation: method, path, operationId, summary, tag, the 200's shape, and what it takes.
# fmt: off
API_OPERATIONS: tuple[ApiOperation, ...] = (
    ApiOperation("POST", "/v1/images/generations", "createImage", "Generate images", "images", shapes.ImagesResponse,
              body=IMAGE_REQUEST, errors=IMAGE_ERRORS, idempotent=True, answers_async=True, streams=True),
    ApiOperation("POST", "/v1/images/edits", "editImage", "Edit images (multipart, as the openai SDK sends it)",
              "images", shapes.ImagesResponse,
              body=IMAGE_EDIT, errors=IMAGE_ERRORS, idempotent=True, answers_async=True, streams=True),
    ApiOperation("POST", "/v1/images/quote", "quoteImage", "The price a generation would be held at now", "images",
              shapes.Quote, body=IMAGE_REQUEST),
    ApiOperation("GET", "/v1/images", "listImages",
              "The caller's stored images (delivered as URLs), newest first, searched by prompt", "images",
              shapes.LibraryPage, query=LIBRARY_QUERY),
    ApiOperation("GET", "/v1/images/jobs/{job_id}", "getImageJob",
              "An async job: its status and, once finished, its result or error", "images", shapes.ImageJob,
              path_doc=JOB),
    ApiOperation("DELETE", "/v1/images/jobs/{job_id}", "cancelImageJob",
              "Cancel a queued job (its hold released, nothing billed)", "images", shapes.ImageJob,
              path_doc=JOB, errors=(409,)),
    ApiOperation("DELETE", "/v1/images/img_{suffix}", "deleteImage", "The owner deletes a stored image before it expires",
              "images", None, path_doc={"suffix": "the part of the image id after `img_`"}),
    ApiOperation("POST", "/v1/chat/completions", "createChatImage",
              "Images through Chat Completions (catalog image models)", "chat", shapes.ChatImageCompletion,
              body=CHAT, errors=IMAGE_ERRORS, idempotent=True, streams=True),
    ApiOperation("POST", "/v1/responses", "createResponse",
              "Make an image with OpenAI's Responses API and its image_generation tool", "responses",
              shapes.Response, body=RESPONSE, errors=(*IMAGE_ERRORS, 404), idempotent=True, streams=True),
    ApiOperation("GET", "/v1/responses/{response_id}", "getResponse", "A response kept 24 hours, with its image",
              "responses", shapes.Response, path_doc=RESPONSE_ID),
    ApiOperation("DELETE", "/v1/responses/{response_id}", "deleteResponse", "Delete a kept response and its image now",
              "responses", shapes.DeletedResponse, path_doc=RESPONSE_ID),
    ApiOperation("GET", "/v1/models", "listModels", "The catalog, with live prices", "models", shapes.ModelList,
              auth=NO_KEY),
    ApiOperation("GET", "/v1/models/{model_id}", "getModel", "One model", "models", shapes.Model,
              auth=NO_KEY, path_doc={"model_id": "a catalog id or alias"}),
    ApiOperation("GET", "/v1/files/{name}", "downloadImage", "A stored image, by its signed URL (no key)", "files", None,
              auth=NO_KEY, errors=(403,),
              path_doc={"name": "`{image_id}.{ext}`, or `{image_id}.thumb.webp` (its thumbnail, made on the first fetch)"},
              query=(Field("expires", "string", "Unix time the URL expires"),
                     Field("signature", "string", "the URL's HMAC")),
              media=("image/png", "image/jpeg", "image/webp")),
    ApiOperation("POST", "/v1/files", "uploadBatchFile",
              "Upload a batch's JSONL input (multipart, as the openai SDK's files.create sends it)", "batch",
              shapes.BatchFile, body=BATCH_FILE),
    ApiOperation("GET", "/v1/files/file-{suffix}", "getBatchFile", "A batch file's File object", "batch",
              shapes.BatchFile, path_doc=FILE),
    ApiOperation("GET", "/v1/files/file-{suffix}/content", "getBatchFileContent",
              "A batch file's bytes (JSONL)", "batch", None, path_doc=FILE, media=("application/jsonl",)),
    ApiOperation("DELETE", "/v1/files/file-{suffix}", "deleteBatchFile", "Delete a batch file", "batch",
              shapes.DeletedFile, path_doc=FILE),
    ApiOperation("POST", "/v1/batches", "createBatch",
              "Run a file of image requests as a batch, at the batch price, quoted now", "batch", shapes.Batch,
              body=NEW_BATCH_BODY, errors=(402, 404)),
    ApiOperation("GET", "/v1/batches", "listBatches", "The caller's batches, newest first", "batch",
              shapes.BatchList, query=BATCH_PAGE),
    ApiOperation("GET", "/v1/batches/{batch_id}", "getBatch", "A batch: its status, counts and files", "batch",
              shapes.Batch, path_doc=BATCH),
    ApiOperation("POST", "/v1/batches/{batch_id}/cancel", "cancelBatch",
              "Cancel a batch: lines not started end unbilled, running ones finish", "batch", shapes.Batch,
              path_doc=BATCH, errors=(409,)),
    ApiOperation("GET", "/v1/account", "getAccount", "The caller's balance, holds and key", "account", shapes.Account),
    ApiOperation("GET", "/v1/account/activity", "getAccountActivity",
              "The caller's spend and images per day (30 days)", "account", shapes.Activity),
    ApiOperation("GET", "/v1/usage", "getUsage", "The caller's usage records and totals", "account", shapes.Usage,
              query=WINDOW),
    ApiOperation("GET", "/v1/webhooks/deliveries", "listWebhookDeliveries",
              "The caller's account's webhook messages, newest first, with every delivery attempt", "account",
              shapes.WebhookMessageList, query=PAGE),
    ApiOperation("POST", "/admin/v1/accounts", "adminCreateAccount", "Create an account", "admin", shapes.AdminAccount,
              auth=ADMIN, body=NEW_ACCOUNT),
    ApiOperation("GET", "/admin/v1/accounts", "adminListAccounts", "Every account", "admin", shapes.AdminAccountList,
              auth=ADMIN),
    ApiOperation("GET", "/admin/v1/accounts/{account_id}", "adminGetAccount", "One account", "admin",
              shapes.AdminAccount, auth=ADMIN, path_doc=ACCOUNT),
    ApiOperation("POST", "/admin/v1/accounts/{account_id}/disable", "adminDisableAccount",
              "Disable an account (its keys stop working)", "admin", shapes.AdminAccount, auth=ADMIN, path_doc=ACCOUNT),
    ApiOperation("POST", "/admin/v1/accounts/{account_id}/enable", "adminEnableAccount", "Enable an account again",
              "admin", shapes.AdminAccount, auth=ADMIN, path_doc=ACCOUNT),
    ApiOperation("POST", "/admin/v1/accounts/{account_id}/credit", "adminTopUp",
              "Add credit (a ledger entry with a reason)", "admin", shapes.BalanceChange,
              auth=ADMIN, body=CREDIT, path_doc=ACCOUNT, errors=(409,)),
    ApiOperation("POST", "/admin/v1/accounts/{account_id}/adjustments", "adminAdjust",
              "Correct the balance either way (a ledger entry with a reason)", "admin", shapes.BalanceChange,
              auth=ADMIN, body=ADJUSTMENT, path_doc=ACCOUNT, errors=(409,)),
    ApiOperation("GET", "/admin/v1/accounts/{account_id}/ledger", "adminLedgerHistory",
              "An account's ledger entries, newest first", "admin", shapes.LedgerPage,
              auth=ADMIN, path_doc=ACCOUNT, query=LEDGER_PAGE),
    ApiOperation("POST", "/admin/v1/accounts/{account_id}/keys", "adminCreateKey", "Create a key (shown once)", "admin",
              shapes.Key, auth=ADMIN, body=NEW_KEY, path_doc=ACCOUNT),
    ApiOperation("GET", "/admin/v1/accounts/{account_id}/keys", "adminListKeys", "An account's keys", "admin",
              shapes.KeyList, auth=ADMIN, path_doc=ACCOUNT),
    ApiOperation("GET", "/admin/v1/keys/{key_id}", "adminGetKey", "One key", "admin", shapes.Key,
              auth=ADMIN, path_doc=KEY),
    ApiOperation("POST", "/admin/v1/keys/{key_id}/revoke", "adminRevokeKey", "Revoke a key", "admin", shapes.Revoked,
              auth=ADMIN, path_doc=KEY),
    ApiOperation("PUT", "/admin/v1/keys/{key_id}/webhook", "adminSetWebhook",
              "Send the key's finished async jobs to a URL; the answer shows the signing secret once", "admin",
              shapes.WebhookSet, auth=ADMIN, body=WEBHOOK, path_doc=KEY),
    ApiOperation("DELETE", "/admin/v1/keys/{key_id}/webhook", "adminClearWebhook", "Stop the key's webhooks", "admin",
              shapes.WebhookCleared, auth=ADMIN, path_doc=KEY),
    ApiOperation("GET", "/admin/v1/webhooks/deliveries", "adminWebhookDeliveries",
              "Every account's webhook messages (or one account's)", "admin", shapes.WebhookMessageList, auth=ADMIN,
              query=(ACCOUNT_FILTER, Field("status", "string", "only messages in this state", choices=STATUSES), *PAGE)),
    ApiOperation("PUT", "/admin/v1/keys/{key_id}/budget", "adminSetKeyBudget",
              "Set the key's budget per UTC day or month (holds count against it)", "admin", shapes.Key,
              auth=ADMIN, body=KEY_BUDGET, path_doc=KEY),
    ApiOperation("DELETE", "/admin/v1/keys/{key_id}/budget", "adminClearKeyBudget", "Remove the key's budget", "admin",
              shapes.Key, auth=ADMIN, path_doc=KEY),
    ApiOperation("GET", "/admin/v1/accounts/{account_id}/budgets", "adminAccountBudgets",
              "The account's end-user budget, low-balance alert and alert webhook URL", "admin",
              shapes.AccountBudgets, auth=ADMIN, path_doc=ACCOUNT),
    ApiOperation("PUT", "/admin/v1/accounts/{account_id}/user-budget", "adminSetUserBudget",
              "Set what each end user of the account may spend per UTC day or month", "admin",
              shapes.AccountBudgets, auth=ADMIN, body=USER_BUDGET, path_doc=ACCOUNT),
    ApiOperation("DELETE", "/admin/v1/accounts/{account_id}/user-budget", "adminClearUserBudget",
              "Remove the account's end-user budget", "admin", shapes.AccountBudgets, auth=ADMIN, path_doc=ACCOUNT),
    ApiOperation("PUT", "/admin/v1/accounts/{account_id}/low-balance", "adminSetLowBalance",
              "Send account.balance_low when a capture takes the balance below a threshold", "admin",
              shapes.AccountBudgets, auth=ADMIN, body=LOW_BALANCE, path_doc=ACCOUNT),
    ApiOperation("DELETE", "/admin/v1/accounts/{account_id}/low-balance", "adminClearLowBalance",
              "Stop the low-balance alert", "admin", shapes.AccountBudgets, auth=ADMIN, path_doc=ACCOUNT),
    ApiOperation("PUT", "/admin/v1/accounts/{account_id}/webhook", "adminSetAccountWebhook",
              "Send the account's alerts to a URL; the answer shows the signing secret once", "admin",
              shapes.AccountWebhookSet, auth=ADMIN, body=ACCOUNT_WEBHOOK, path_doc=ACCOUNT),
    ApiOperation("DELETE", "/admin/v1/accounts/{account_id}/webhook", "adminClearAccountWebhook",
              "Stop the account's alerts", "admin", shapes.AccountWebhookCleared, auth=ADMIN, path_doc=ACCOUNT),
    ApiOperation("GET", "/admin/v1/prices", "adminListPrices", "Every live price card", "admin", shapes.PriceList,
              auth=ADMIN),
    ApiOperation("PUT", "/admin/v1/prices", "adminSetPrice", "Set a live rate; the next request pays it", "admin",
              shapes.PriceSet, auth=ADMIN, body=PRICE),
    ApiOperation("GET", "/admin/v1/usage", "adminUsage", "Usage across accounts (or one)", "admin", shapes.Usage,
              auth=ADMIN, query=(*WINDOW, replace(ACCOUNT_FILTER, doc="only this account"))),
    ApiOperation("GET", "/admin/v1/margin", "adminMargin", "Revenue, upstream cost and margin per model and route",
              "admin", shapes.Margin, auth=ADMIN, query=(
                  replace(START, doc="unix seconds or ISO 8601, UTC where no zone is given (default: 30 days before "
                          f"`end`; the window spans at most {MAX_SPAN.days} days)"), END)),
    ApiOperation("GET", "/admin/v1/upstream-costs", "adminUpstreamCosts",
              "Every route's live upstream cost sheet", "admin", shapes.UpstreamCosts, auth=ADMIN),
    ApiOperation("PUT", "/admin/v1/upstream-costs", "adminSetUpstreamCost",
              "Set one item of a route's upstream cost sheet; records from then on are costed with it", "admin",
              shapes.UpstreamCostSet, auth=ADMIN, body=UPSTREAM_COST),
    ApiOperation("GET", "/admin/v1/ledger/verify", "adminVerifyLedger", "Check that balances, holds and the ledger agree",
              "admin", shapes.LedgerVerify, auth=ADMIN),
    ApiOperation("GET", "/admin/v1/routes", "adminRoutes", "Every upstream route with its health and circuit", "admin",
              shapes.Routes, auth=ADMIN),
)
# fmt: on


__all__ = ["API_OPERATIONS", "ApiOperation", "Body"]
