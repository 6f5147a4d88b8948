"""The OpenAI Images API wire format: OpenAI, Azure OpenAI, and any server that speaks it.

The three differ only in the URL and the key's header, so one class serves them all; the
registry's factories (providers/registry.py) build it for each kind of route.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote, urlencode

import orjson

from ..config.setting import Setting
from ..domain.catalog import Route
from ..domain.credentials import Credentials
from ..domain.errors import ContentBlocked
from ..domain.ports import PartialSink
from ..domain.request import ImageRequest
from ..domain.upstream import GeneratedImage, PartialImage, RetryableUpstreamError, UpstreamProblem, UpstreamRejected
from .base import (
    Failure,
    decode_b64,
    error_object,
    json_body,
    keep_successes,
    map_transport_errors,
    passthrough_b64,
    retry_after_seconds,
)
from .credentials import CredentialSection, key_and_base_url
from .download import download_image, download_limit
from .http_client import FormFile, UpstreamClient, UpstreamResponse
from .usage import openai_usage, with_usage

SAFETY_CODES = frozenset({"moderation_blocked", "content_policy_violation", "content_filter", "contentFilter"})
AZURE_SAFETY_INNER_CODES = frozenset({"ResponsibleAIPolicyViolation"})
RETRYABLE_STATUSES = frozenset({408, 409, 429})
NOT_RETRYABLE_CODES = frozenset({"insufficient_quota"})


OPENAI_CREDENTIALS = key_and_base_url(
    "openai", "OPENAI", "https://api.openai.com/v1", "OpenAI", base_url_note=" (any OpenAI-compatible server)"
)
AZURE_CREDENTIALS = CredentialSection(
    "azure_openai",
    api_key=Setting("AZURE_OPENAI_API_KEY", None, "key of the Azure OpenAI route"),
    base_url=Setting("AZURE_OPENAI_ENDPOINT", None, "`https://{resource}.openai.azure.com` of the Azure OpenAI route"),
    api_version=Setting("OPENAI_API_VERSION", "2025-04-01-preview", "api-version of the Azure OpenAI route"),
)


class OpenAIImages:
    """`POST …/images/generations` of one route.

    GPT image models refuse `style` and `response_format`: `style` is never sent (the gateway's
    style is already in `request.upstream_prompt`), and `response_format: b64_json` only where the
    route's `options.response_format = "b64_json"` says the upstream takes it. An item answered as a
    `url` (another imagegate, many OpenAI-compatible servers) is downloaded (`providers.download`).
    """

    def __init__(
        self,
        client: UpstreamClient,
        route: Route,
        url: str,
        headers: dict[str, str],
        *,
        safety_identifier: bool = False,
        streams: bool = False,
    ) -> None:
        self._client = client
        self._route = route
        self._url = url
        self._edit_url = url.replace("/images/generations", "/images/edits", 1)
        self._ask_b64 = route.options.get("response_format") == "b64_json"
        """The upstream takes `response_format` (route option): ask for base64 rather than a URL to fetch."""
        self._download_max = download_limit(route.options)
        self._headers = headers
        self._safety_identifier = safety_identifier
        self._streams = streams or route.options.get("stream") is True
        """The upstream streams partial images (OpenAI, Azure; other servers where the route says so)."""
        """OpenAI itself takes `safety_identifier`; elsewhere the end user goes as `user`."""

    @classmethod
    def openai(
        cls, client: UpstreamClient, route: Route, api_key: str | None, base_url: str, *, official: bool = False
    ) -> OpenAIImages:
        """OpenAI itself, or any OpenAI-compatible server (a key is optional for the latter)."""
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        url = base_url.rstrip("/") + "/images/generations"
        return cls(client, route, url, headers, safety_identifier=official, streams=official)

    @classmethod
    def azure(cls, client: UpstreamClient, route: Route, api_key: str, endpoint: str, api_version: str) -> OpenAIImages:
        """Azure OpenAI: the route's `upstream_model` is the deployment name."""
        deployment = quote(route.upstream_model, safe="")
        query = urlencode({"api-version": api_version})
        url = f"{endpoint.rstrip('/')}/openai/deployments/{deployment}/images/generations?{query}"
        return cls(client, route, url, {"api-key": api_key}, streams=True)

    def output_format(self, request: ImageRequest) -> str:
        """The format asked upstream: the client's when the route makes it and nothing is resized,
        else lossless PNG (the gateway re-encodes anyway), else the route's first native format."""
        native = self._route.native_formats
        if request.output_format in native and request.upstream_size == request.size:
            return request.output_format
        return "png" if "png" in native else native[0]

    def payload(self, request: ImageRequest) -> dict[str, Any]:
        output_format = self.output_format(request)
        body: dict[str, Any] = {
            "model": self._route.upstream_model,
            "prompt": request.upstream_prompt,
            "n": request.n,
            "size": request.upstream_size,
            "output_format": output_format,
        }
        if request.quality is not None:
            body["quality"] = request.quality
        if self._ask_b64:
            body["response_format"] = "b64_json"
        if (
            output_format == request.output_format != "png"
            and self._route.native_compression
            and request.output_compression is not None
        ):
            body["output_compression"] = request.output_compression
        body.update(self._openai_fields(request))
        return body

    def _openai_fields(self, request: ImageRequest) -> dict[str, Any]:
        """OpenAI's further fields, sent only when not the default (OpenAI-compatible servers may lack them)."""
        fields: dict[str, Any] = {}
        if request.background != "auto":
            fields["background"] = request.background
        if request.moderation != "auto":
            fields["moderation"] = request.moderation
        if request.complexity is not None:
            fields["complexity"] = request.complexity
        if self._safety_identifier:
            if request.user is not None:
                fields["user"] = request.user
            if request.safety_identifier is not None:
                fields["safety_identifier"] = request.safety_identifier
        elif request.end_user is not None:
            fields["user"] = request.end_user
        return fields

    async def generate(self, request: ImageRequest, *, timeout: float) -> list[GeneratedImage]:
        started = time.monotonic()
        with map_transport_errors(self._route.name):
            response = await self._client.post(
                self._url, json=self.payload(request), headers=self._headers, timeout=timeout
            )
        return await self._images(response, request, timeout - (time.monotonic() - started))

    async def edit(self, request: ImageRequest, *, timeout: float) -> list[GeneratedImage]:
        """`POST …/images/edits`, multipart as the `openai` SDK sends it (`image`, or `image[]` for several)."""
        started = time.monotonic()
        fields, files = self._form(request)
        with map_transport_errors(self._route.name):
            response = await self._client.post_form(
                self._edit_url, fields=fields, files=files, headers=self._headers, timeout=timeout
            )
        return await self._images(response, request, timeout - (time.monotonic() - started))

    def _form(self, request: ImageRequest) -> tuple[dict[str, str], list[FormFile]]:
        """An edit's multipart parts: the generation's fields as text, then the images and the mask."""
        fields = {name: str(value) for name, value in self.payload(request).items()}
        if request.input_fidelity is not None:
            fields["input_fidelity"] = request.input_fidelity
        name = "image" if len(request.inputs) == 1 else "image[]"
        files = [FormFile(name, image.filename, image.mime_type, image.data) for image in request.inputs]
        if request.mask is not None:
            files.append(FormFile("mask", request.mask.filename, request.mask.mime_type, request.mask.data))
        return fields, files

    async def stream(self, request: ImageRequest, *, timeout: float, partial: PartialSink) -> list[GeneratedImage]:
        """With `partial_images` > 0, on an upstream that streams (OpenAI, Azure, or a route whose
        `options.stream` is true): `stream: true`, each partial image passed to `partial` as it comes,
        the completed images returned. Otherwise the call is not streamed upstream at all."""
        if not request.partial_images or not self._streams:
            return await (
                self.edit(request, timeout=timeout) if request.inputs else self.generate(request, timeout=timeout)
            )
        images: list[GeneratedImage] = []

        async def on_event(event: str, data: str) -> None:
            if data.strip() == "[DONE]":
                return
            try:
                item = orjson.loads(data)
            except ValueError as exc:
                raise RetryableUpstreamError(f"route {self._route.name}: a streamed event is not JSON") from exc
            if not isinstance(item, dict) or error_object(item):
                raise self._failure(200, error_object(item), UpstreamResponse(200, "OK", {}, b""))
            kind = str(item.get("type") or event)
            if kind.endswith(".partial_image") and isinstance(item.get("b64_json"), str):
                await partial(PartialImage(item["b64_json"], int(item.get("partial_image_index") or 0)))
            elif kind.endswith(".completed"):
                value = item.get("b64_json")
                image = decode_b64(value, self._route.name)
                quality = item.get("quality") if isinstance(item.get("quality"), str) else None
                b64 = passthrough_b64(str(value), image, request)
                images.append(
                    GeneratedImage(
                        data=image,
                        revised_prompt=request.upstream_prompt,
                        quality=quality,
                        b64=b64,
                        usage=openai_usage(item),  # each completed event reports its own image's usage
                    )
                )

        payload = {**self.payload(request), "stream": True, "partial_images": request.partial_images}
        with map_transport_errors(self._route.name):
            if request.inputs:
                fields, files = self._form(request)
                fields.update(stream="true", partial_images=str(request.partial_images))
                response = await self._client.post_events(
                    self._edit_url,
                    on_event=on_event,
                    fields=fields,
                    files=files,
                    headers=self._headers,
                    timeout=timeout,
                )
            else:
                response = await self._client.post_events(
                    self._url, on_event=on_event, json=payload, headers=self._headers, timeout=timeout
                )
        if response.status_code != 200:
            raise self._failure(response.status_code, _error_of(response), response)
        if response.content:  # a server that answered JSON although asked to stream
            return await self._images(response, request, timeout)
        if not images:
            raise RetryableUpstreamError(f"route {self._route.name}: the stream ended without a completed image")
        return images

    async def _images(self, response: UpstreamResponse, request: ImageRequest, left: float) -> list[GeneratedImage]:
        """The images of an answer (downloads within `left` seconds), or the failure it says."""
        if response.status_code != 200:
            raise self._failure(response.status_code, _error_of(response), response)
        body = json_body(response, self._route.name)
        items = body.get("data") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            if error_object(body):  # Azure's older content-filter shape: an error object and no data
                raise self._failure(response.status_code, error_object(body), response)
            raise RetryableUpstreamError(f"route {self._route.name}: upstream answered 200 with no images")
        quality = body.get("quality") if isinstance(body.get("quality"), str) else None
        results = await asyncio.gather(*(self._item(item, request, quality, left) for item in items))
        return with_usage(keep_successes(results, self._route.name), openai_usage(body))

    async def _item(
        self, item: Any, request: ImageRequest, quality: str | None, timeout: float
    ) -> list[GeneratedImage] | Failure:
        """One image of `data` (base64, or a URL fetched within `timeout`), or why it is unusable (it
        is then dropped: a partial result)."""
        if not isinstance(item, dict):
            return RetryableUpstreamError(f"route {self._route.name}: an item of data is not an object")
        value = item.get("b64_json")
        url = item.get("url")
        revised = item.get("revised_prompt") or request.upstream_prompt
        try:
            if value is None and isinstance(url, str):
                data = await download_image(
                    self._client, url, self._url, route=self._route.name, max_bytes=self._download_max, timeout=timeout
                )
                return [GeneratedImage(data=data, revised_prompt=revised, quality=quality)]
            data = decode_b64(value, self._route.name)
        except UpstreamProblem as problem:
            return problem
        return [
            GeneratedImage(
                data=data, revised_prompt=revised, quality=quality, b64=passthrough_b64(str(value), data, request)
            )
        ]

    async def aclose(self) -> None:
        """The HTTP client is shared and closed by the app."""

    def _failure(self, status: int, error: Any, response: UpstreamResponse) -> Exception:
        code = str(error.get("code") or "")
        inner = error.get("inner_error")
        inner_code = str(inner.get("code") or "") if isinstance(inner, dict) else ""
        message = str(error.get("message") or response.reason_phrase)
        where = f"route {self._route.name}: upstream {status}"
        if code in SAFETY_CODES or inner_code in AZURE_SAFETY_INNER_CODES:
            details = error.get("moderation_details")
            stage = details.get("moderation_stage") if isinstance(details, dict) else None
            if stage == "output":
                return ContentBlocked(
                    "The generated image was blocked by the upstream's safety system.", code="output_blocked"
                )
            return ContentBlocked("The prompt was blocked by the upstream's safety system.")
        if status >= 500 or (status in RETRYABLE_STATUSES and code not in NOT_RETRYABLE_CODES):
            return RetryableUpstreamError(
                f"{where} {code}: {message}".strip(), retry_after=retry_after_seconds(response.headers)
            )
        return UpstreamRejected(f"{where} {code}: {message}")


def _error_of(response: UpstreamResponse) -> Any:
    try:
        return error_object(response.json())
    except ValueError:
        return {}


def build_openai(route: Route, credentials: Credentials, client: UpstreamClient) -> OpenAIImages | None:
    if not credentials.api_key or not credentials.base_url:
        return None
    return OpenAIImages.openai(client, route, credentials.api_key, credentials.base_url, official=True)


def build_openai_compatible(route: Route, credentials: Credentials, client: UpstreamClient) -> OpenAIImages | None:
    """An operator's own server (a GPU worker, another imagegate): a base URL, and a key if it wants one."""
    if not credentials.base_url:
        return None
    return OpenAIImages.openai(client, route, credentials.api_key, credentials.base_url)


def build_azure(route: Route, credentials: Credentials, client: UpstreamClient) -> OpenAIImages | None:
    if not credentials.api_key or not credentials.base_url or not credentials.api_version:
        return None
    return OpenAIImages.azure(client, route, credentials.api_key, credentials.base_url, credentials.api_version)


__all__ = [
    "AZURE_CREDENTIALS",
    "OPENAI_CREDENTIALS",
    "OpenAIImages",
    "build_azure",
    "build_openai",
    "build_openai_compatible",
]
