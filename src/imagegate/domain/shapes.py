"""The JSON bodies the API answers with, as typed dictionaries: one declaration per shape.

The API document (`http/openapi.py`) renders each of them as a schema, and schemathesis checks every
answer against it (`tests/e2e/test_openapi.py`). A key is always there unless it is `NotRequired`;
`X | None` may be null; `Annotated[X, "…"]` says what it means. Services may return these types so
that mypy holds the code that builds an answer to its declaration.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, TypedDict


class ErrorObject(TypedDict):
    message: str
    type: str
    param: str | None
    code: str | None


class Error(TypedDict):
    """Every refusal, in OpenAI's shape."""

    error: ErrorObject


class Billing(TypedDict):
    images: Annotated[int, "images delivered (and billed)"]
    images_requested: int
    amount_micros: int
    currency: str
    unit_price_micros: int


class ImageData(TypedDict):
    url: NotRequired[Annotated[str, "a signed URL (response_format url)"]]
    b64_json: NotRequired[Annotated[str, "the image (response_format b64_json)"]]
    revised_prompt: NotRequired[str | None]


class ImagesResponse(TypedDict):
    created: int
    data: list[ImageData]
    billing: Billing


class ImageJob(TypedDict):
    id: Annotated[str, "`job_` and 26 characters"]
    object: Literal["image.job"]
    status: Literal["queued", "running", "completed", "failed", "cancelled"]
    created: int
    completed_at: NotRequired[Annotated[int, "when the job finished (completed, failed, cancelled)"]]
    result: NotRequired[Annotated[ImagesResponse, "completed: the synchronous answer's body"]]
    error: NotRequired[Annotated[ErrorObject, "failed: the error the synchronous request would have had"]]


class Quote(TypedDict):
    object: Literal["image.quote"]
    model: str
    n: int
    size: str
    quality: str | None
    unit_price_micros: int
    amount_micros: int
    currency: str


class ModelCapabilities(TypedDict):
    sizes: list[str]
    max_n: int
    qualities: list[str]
    styles: list[str]
    output_formats: list[str]
    img2img: bool
    max_prompt_chars: int


class ModelPricing(TypedDict):
    currency: str
    per_image_micros: Annotated[dict[str, dict[str, int]], "quality -> size -> micros per image"]


class ModelAvailability(TypedDict):
    """Whether this gateway can serve the model to a live key now."""

    state: Literal["available", "degraded", "not_configured"]
    routes: int
    configured_routes: int
    failing_routes: int


class ModelDetails(TypedDict):
    vendor: str
    display_name: str
    aliases: list[str]
    capabilities: ModelCapabilities
    pricing: ModelPricing
    latency: dict[str, Any]
    when_to_use: list[str]
    availability: NotRequired[ModelAvailability]


class ModelArchitecture(TypedDict):
    """OpenRouter's: how chat clients find image models."""

    modality: str
    input_modalities: list[Literal["text", "image"]]
    output_modalities: list[Literal["image"]]


class Model(TypedDict):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str
    architecture: ModelArchitecture
    imagegate: ModelDetails


class ModelList(TypedDict):
    object: Literal["list"]
    data: list[Model]


class AccountKey(TypedDict):
    id: str
    mode: Literal["live", "test"]
    allowed_models: list[str] | None
    rate_limit: dict[str, Any] | None
    budget: NotRequired[Annotated[KeyBudget | None, "the key's spending budget and this period's spend (null: none)"]]


class Account(TypedDict):
    account_id: str
    balance_micros: int
    held_micros: int
    currency: str
    key: AccountKey


class ActivityDay(TypedDict):
    date: str
    cost_micros: int
    images: int
    requests: int


class Activity(TypedDict):
    object: Literal["account.activity"]
    account_id: str
    currency: str
    days: Annotated[list[ActivityDay], "the last 30 days, oldest first"]


class UsageRecord(TypedDict):
    id: str
    account_id: str
    key_id: str
    status: int
    cost_micros: int
    created: int
    time: str
    model: NotRequired[str | None]
    route: NotRequired[str | None]
    attempts: NotRequired[int | None]
    n: NotRequired[int | None]
    delivered: NotRequired[int | None]
    size: NotRequired[str | None]
    quality: NotRequired[str | None]
    error_code: NotRequired[str | None]
    unit_price_micros: NotRequired[int | None]
    latency_ms: NotRequired[int | None]
    user: NotRequired[str | None]
    surface: NotRequired[Annotated[str, "the API it came through: images, chat, responses (job: an async job)"]]
    lost_images: NotRequired[
        Annotated[
            int,
            "images the upstream made that were never handed out (withheld by output screening, or "
            "made for a request that then failed); never billed",
        ]
    ]
    upstream_cost_micros: NotRequired[
        Annotated[int, "admin API only: what the upstream calls that made its images cost the operator, micro-USD"]
    ]
    upstream_cost_estimated: NotRequired[
        Annotated[bool, "admin API only: part of that cost is the route's per-image figure (no usage reported)"]
    ]


class Usage(TypedDict):
    object: Literal["list"]
    data: list[UsageRecord]
    totals: dict[str, Any]
    account_id: NotRequired[str | None]
    start: NotRequired[str]
    end: NotRequired[str]


class AdminAccount(TypedDict):
    id: str
    name: str
    balance_micros: int
    held_micros: int
    currency: str


class AdminAccountList(TypedDict):
    object: Literal["list"]
    data: list[AdminAccount]


class BalanceChange(TypedDict):
    account_id: str
    amount_micros: int
    kind: Literal["topup", "adjustment"]
    reason: str
    balance_micros: int


class KeyBudget(TypedDict):
    budget_micros: int
    period: Literal["day", "month"]
    spent_micros: Annotated[int, "captured this period (refunds given back)"]
    held_micros: Annotated[int, "held by requests in flight: it counts against the budget too"]
    remaining_micros: int
    resets_at: Annotated[str, "when the period ends (ISO 8601, UTC)"]


class Key(TypedDict):
    id: str
    mode: Literal["live", "test"]
    prefix: NotRequired[str]
    allowed_models: NotRequired[list[str] | None]
    key: NotRequired[Annotated[str, "the full key: shown once, at creation"]]
    webhook_url: NotRequired[Annotated[str | None, "where its async jobs' webhooks go (never the secret)"]]
    budget: NotRequired[Annotated[KeyBudget | None, "its spending budget and this period's spend (null: none)"]]


class UserBudget(TypedDict):
    budget_micros: int
    period: Literal["day", "month"]


class AccountBudgets(TypedDict):
    account_id: str
    user_budget: Annotated[UserBudget | None, "what each end user may spend per period (null: no budget)"]
    low_balance_micros: Annotated[int | None, "account.balance_low below this (null: no alert)"]
    low_balance_alerted: Annotated[bool, "the alert was sent and waits for a top-up above the threshold"]
    webhook_url: Annotated[str | None, "where the account's alerts go (never the secret)"]


class WebhookSecretShown(TypedDict):
    """A webhook URL just set, with the secret its messages are signed with."""

    webhook_url: str
    secret: Annotated[str, "the signing secret (Standard Webhooks, `whsec_…`): shown only in this answer"]


class AccountWebhookSet(WebhookSecretShown):
    account_id: str


class AccountWebhookCleared(TypedDict):
    account_id: str
    webhook_url: None


class KeyList(TypedDict):
    object: Literal["list"]
    data: list[Key]


class Revoked(TypedDict):
    id: str
    revoked_at: str


class PriceList(TypedDict):
    currency: str
    models: Annotated[dict[str, dict[str, dict[str, int]]], "model -> quality -> size -> micros per image"]


class PriceSet(TypedDict):
    model: str
    quality: str
    size: str
    micros: int


class MarginFigures(TypedDict):
    requests: Annotated[int, "usage records of live keys that reached an upstream (replays excluded)"]
    images: Annotated[int, "images delivered"]
    lost_images: Annotated[int, "images made upstream and never handed out: paid for, never billed"]
    revenue_micros: Annotated[int, "what the ledger captured and kept (a refunded charge counts 0)"]
    upstream_cost_micros: Annotated[int, "what the upstream calls that made images cost, under the routes' cost sheets"]
    margin_micros: Annotated[int, "revenue_micros - upstream_cost_micros"]
    estimated_cost_micros: Annotated[int, "the part of the cost estimated from per-image figures (no usage reported)"]
    estimated_share: Annotated[float, "estimated_cost_micros / upstream_cost_micros (0 when nothing cost)"]


class MarginLine(MarginFigures):
    model: str
    route: str


class Margin(TypedDict):
    object: Literal["margin"]
    start: str
    end: str
    data: Annotated[list[MarginLine], "per model and route, by model then route"]
    totals: Annotated[MarginFigures, "the sum of the lines"]


class UpstreamCostSheet(TypedDict):
    tokens_micros_per_million: Annotated[
        dict[str, int | None], "input_text, input_image, output_image, output_text (null: output_image's price)"
    ]
    per_image_micros: Annotated[dict[str, dict[str, int]], "quality -> size (or *) -> micro-USD per image"]


class RouteCostSheet(TypedDict):
    model: str
    route: str
    provider: str
    sheet: Annotated[UpstreamCostSheet | None, "the live sheet: the catalog's with the operator's items (null: none)"]
    overrides: Annotated[dict[str, int], "the operator's items in it, in micros"]


class UpstreamCosts(TypedDict):
    object: Literal["list"]
    data: list[RouteCostSheet]


class UpstreamCostSet(TypedDict):
    model: str
    route: str
    item: str
    micros: Annotated[int, "micro-USD per million tokens (a tokens. item) or per image"]


class LedgerVerify(TypedDict):
    ok: bool
    problems: list[dict[str, Any]]


class Routes(TypedDict):
    state: Annotated[str, "where circuit state lives (process or redis)"]
    routes: list[dict[str, Any]]


class WebhookAttempt(TypedDict):
    attempt: int
    attempted_at: str
    url: NotRequired[str | None]
    status_code: Annotated[int | None, "the receiver's answer; null when there was none"]
    error: Annotated[str | None, "why there was no answer (timeout, refused address, …)"]
    duration_ms: int


class WebhookMessage(TypedDict):
    id: Annotated[str, "the `webhook-id` header: one per job and status"]
    object: Literal["webhook.message"]
    type: Literal["image.job.completed", "image.job.failed"]
    job_id: str
    account_id: NotRequired[str]
    key_id: NotRequired[str]
    status: Literal["pending", "delivered", "failed"]
    created_at: str
    next_attempt_at: NotRequired[str | None]
    finished_at: NotRequired[str | None]
    attempts: list[WebhookAttempt]


class WebhookMessageList(TypedDict):
    object: Literal["list"]
    data: list[WebhookMessage]
    has_more: bool
    last_id: NotRequired[str | None]


class LibraryImage(TypedDict):
    """A stored image in its owner's library (`GET /v1/images`)."""

    id: str
    object: Literal["image"]
    url: Annotated[str, "signed until `expires`, as first handed out"]
    thumbnail_url: Annotated[str, "a WebP at most 256 px on its longer side, made when first fetched"]
    prompt: Annotated[str | None, "null when not kept (IMAGEGATE_LIBRARY_PROMPTS=false)"]
    revised_prompt: NotRequired[str | None]
    model: str | None
    size: str | None
    quality: NotRequired[str | None]
    output_format: Literal["png", "jpeg", "webp"]
    cost_micros: NotRequired[Annotated[int | None, "what this one image cost"]]
    currency: NotRequired[str]
    created: NotRequired[int | None]
    expires: Annotated[int, "Unix time the URLs expire; the image is deleted after"]
    request_id: NotRequired[str | None]
    surface: NotRequired[Annotated[str | None, "`images`, `chat`, `job` or `batch`"]]


class LibraryPage(TypedDict):
    object: Literal["list"]
    data: list[LibraryImage]
    first_id: str | None
    last_id: Annotated[str | None, "pass as `after` for the next page"]
    has_more: bool


class BatchFile(TypedDict):
    """OpenAI's File object: a batch's input (purpose `batch`) or its output or error file (`batch_output`)."""

    id: Annotated[str, "`file-` and 26 characters"]
    object: Literal["file"]
    bytes: int
    created_at: int
    filename: str
    purpose: Literal["batch", "batch_output"]
    status: Literal["processed"]
    expires_at: None
    status_details: None


class DeletedFile(TypedDict):
    id: str
    object: Literal["file"]
    deleted: bool


class BatchRequestCounts(TypedDict):
    total: int
    completed: Annotated[int, "lines answered 200 (in the output file)"]
    failed: Annotated[int, "lines refused or failed (in the error file; cancelled and expired lines are there too)"]


class BatchErrorLine(TypedDict):
    code: str
    message: str
    param: str | None
    line: int | None


class BatchErrors(TypedDict):
    object: Literal["list"]
    data: list[BatchErrorLine]


class BatchBilling(TypedDict):
    quote_micros: Annotated[int, "what the batch's valid lines are held and charged at (each at the batch price)"]
    currency: str


class Batch(TypedDict):
    """OpenAI's Batch object, with the gateway's `billing`."""

    id: Annotated[str, "`batch_` and 26 characters"]
    object: Literal["batch"]
    endpoint: str
    errors: BatchErrors | None
    input_file_id: str
    completion_window: Literal["24h"]
    status: Literal[
        "validating", "in_progress", "finalizing", "completed", "failed", "expired", "cancelling", "cancelled"
    ]
    output_file_id: str | None
    error_file_id: str | None
    created_at: int
    in_progress_at: int | None
    expires_at: int | None
    finalizing_at: int | None
    completed_at: int | None
    failed_at: int | None
    expired_at: int | None
    cancelling_at: int | None
    cancelled_at: int | None
    request_counts: BatchRequestCounts
    metadata: dict[str, str] | None
    billing: BatchBilling


class BatchList(TypedDict):
    object: Literal["list"]
    data: list[Batch]
    first_id: str | None
    last_id: Annotated[str | None, "pass as `after` for the next page"]
    has_more: bool


class LedgerEntry(TypedDict):
    id: str
    kind: Literal["topup", "adjustment", "hold", "capture", "release", "refund"]
    amount_micros: Annotated[int, "the signed change of the balance"]
    held_delta_micros: Annotated[int, "the signed change of what is held"]
    reason: str
    request_id: NotRequired[str | None]
    hold_id: NotRequired[str | None]
    created_at: str


class LedgerPage(TypedDict):
    object: Literal["list"]
    account_id: str
    data: list[LedgerEntry]
    has_more: bool
    last_id: Annotated[str | None, "pass as `after` for the next page"]


class WebhookSet(WebhookSecretShown):
    key_id: str


class WebhookCleared(TypedDict):
    key_id: str
    webhook_url: None


class ImageUrl(TypedDict):
    url: Annotated[str, "a data: URL, or the gateway's signed URL (response_format url)"]
    detail: NotRequired[str]


class ImageUrlPart(TypedDict):
    type: Literal["image_url"]
    image_url: ImageUrl
    index: NotRequired[int]


class ChatAnswerMessage(TypedDict):
    role: Literal["assistant"]
    content: Annotated[str | None, "the revised prompt, where there is one"]
    images: list[ImageUrlPart]


class ChatChoice(TypedDict):
    index: int
    message: ChatAnswerMessage
    finish_reason: Literal["stop"]


class TokenUsage(TypedDict):
    """OpenAI's token counts: always 0 (no text model runs; images are billed per image, `billing`)."""

    prompt_tokens: NotRequired[int]
    completion_tokens: NotRequired[int]
    total_tokens: NotRequired[int]


class ChatImageCompletion(TypedDict):
    """One assistant message whose `images` hold the images delivered (only they are billed)."""

    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatChoice]
    usage: TokenUsage
    billing: Billing


class ImageGenerationCall(TypedDict):
    id: Annotated[str, "`ig_…`"]
    type: Literal["image_generation_call"]
    status: Literal["in_progress", "generating", "completed", "failed"]
    result: Annotated[str | None, "the image in base64"]
    revised_prompt: NotRequired[str | None]
    background: NotRequired[str | None]
    output_format: NotRequired[str | None]
    quality: NotRequired[str | None]
    size: NotRequired[str | None]


class Response(TypedDict):
    """OpenAI's `Response`, as far as this gateway answers it: one image_generation_call."""

    id: Annotated[str, "`resp_…`"]
    object: Literal["response"]
    created_at: int
    completed_at: NotRequired[int | None]
    status: Literal["completed", "in_progress"]
    error: NotRequired[None]
    incomplete_details: NotRequired[None]
    model: Annotated[str, "the image model"]
    output: list[ImageGenerationCall]
    previous_response_id: NotRequired[str | None]
    store: NotRequired[bool]
    usage: NotRequired[TokenUsage | None]
    billing: NotRequired[Billing]
    instructions: NotRequired[str | None]
    metadata: NotRequired[dict[str, str]]
    parallel_tool_calls: NotRequired[bool]
    temperature: NotRequired[float | None]
    top_p: NotRequired[float | None]
    max_output_tokens: NotRequired[float | None]
    tool_choice: Any
    tools: list[dict[str, Any]]
    user: NotRequired[str | None]
    safety_identifier: NotRequired[str | None]


class DeletedResponse(TypedDict):
    id: str
    object: Literal["response"]
    deleted: Literal[True]


__all__ = [
    "Account",
    "AccountKey",
    "Activity",
    "ActivityDay",
    "AdminAccount",
    "AdminAccountList",
    "BalanceChange",
    "Billing",
    "ChatAnswerMessage",
    "ChatChoice",
    "ChatImageCompletion",
    "DeletedResponse",
    "Error",
    "ErrorObject",
    "ImageData",
    "ImageGenerationCall",
    "ImageJob",
    "ImageUrl",
    "ImageUrlPart",
    "ImagesResponse",
    "Key",
    "KeyList",
    "LedgerEntry",
    "LedgerPage",
    "LedgerVerify",
    "LibraryImage",
    "LibraryPage",
    "Margin",
    "MarginFigures",
    "MarginLine",
    "Model",
    "ModelArchitecture",
    "ModelCapabilities",
    "ModelDetails",
    "ModelList",
    "ModelPricing",
    "PriceList",
    "PriceSet",
    "Quote",
    "Response",
    "Revoked",
    "RouteCostSheet",
    "Routes",
    "TokenUsage",
    "UpstreamCostSet",
    "UpstreamCostSheet",
    "UpstreamCosts",
    "Usage",
    "UsageRecord",
    "WebhookAttempt",
    "WebhookCleared",
    "WebhookMessage",
    "WebhookMessageList",
    "WebhookSecretShown",
    "WebhookSet",
]
