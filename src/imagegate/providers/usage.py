"""The usage each wire format reports, read into `UpstreamUsage` and carried on the call's images.

A report that is missing or not what the wire format documents reads as None (the cost sheet then
estimates the call's cost per image); counts are bounded (`upstream_usage.count`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ..domain.upstream import GeneratedImage
from ..domain.upstream_usage import UpstreamUsage, count


def openai_usage(body: Any) -> UpstreamUsage | None:
    """OpenAI's `usage`: `input_tokens` (split by `input_tokens_details` into text and image tokens),
    `output_tokens` (split by `output_tokens_details` where given; else all image tokens)."""
    usage = body.get("usage") if isinstance(body, Mapping) else None
    if not isinstance(usage, Mapping):
        return None
    inputs, outputs = count(usage.get("input_tokens")), count(usage.get("output_tokens"))
    if inputs is None or outputs is None:
        return None
    in_details, out_details = _mapping(usage.get("input_tokens_details")), _mapping(usage.get("output_tokens_details"))
    in_image = count(in_details.get("image_tokens")) or 0
    in_text = count(in_details.get("text_tokens"))
    out_text = count(out_details.get("text_tokens")) or 0
    out_image = count(out_details.get("image_tokens"))
    return UpstreamUsage(
        input_text_tokens=in_text if in_text is not None else max(inputs - in_image, 0),
        input_image_tokens=in_image,
        output_image_tokens=out_image if out_image is not None else max(outputs - out_text, 0),
        output_text_tokens=out_text,
    )


def gemini_usage(body: Any) -> UpstreamUsage | None:
    """Gemini's `usageMetadata`: the prompt's tokens by modality (`promptTokensDetails`; all text
    where absent), the candidates' by modality (`candidatesTokensDetails`; all image where absent),
    and `thoughtsTokenCount`, billed as output text."""
    meta = body.get("usageMetadata") if isinstance(body, Mapping) else None
    if not isinstance(meta, Mapping):
        return None
    prompt, candidates = count(meta.get("promptTokenCount") or 0), count(meta.get("candidatesTokenCount") or 0)
    thoughts = count(meta.get("thoughtsTokenCount") or 0)
    if prompt is None or candidates is None or thoughts is None:
        return None
    prompt_by = _by_modality(meta.get("promptTokensDetails"))
    out_by = _by_modality(meta.get("candidatesTokensDetails"))
    in_image = prompt_by.get("IMAGE", 0)
    out_image = out_by.get("IMAGE", candidates if not out_by else 0)
    return UpstreamUsage(
        input_text_tokens=max(prompt - in_image, 0),
        input_image_tokens=in_image,
        output_image_tokens=out_image,
        output_text_tokens=max(candidates - out_image, 0) + thoughts,
    )


def seedream_usage(body: Any) -> UpstreamUsage | None:
    """Seedream's `usage.generated_images`: the images Ark bills (successes only)."""
    usage = body.get("usage") if isinstance(body, Mapping) else None
    billed = count(usage.get("generated_images")) if isinstance(usage, Mapping) else None
    return None if billed is None else UpstreamUsage(billed_images=billed)


def with_usage(images: list[GeneratedImage], usage: UpstreamUsage | None) -> list[GeneratedImage]:
    """The call's images, each carrying the call's one usage report."""
    return images if usage is None else [replace(image, usage=usage) for image in images]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _by_modality(details: Any) -> dict[str, int]:
    found: dict[str, int] = {}
    for entry in details if isinstance(details, list) else ():
        if isinstance(entry, Mapping) and (tokens := count(entry.get("tokenCount"))) is not None:
            modality = str(entry.get("modality"))
            found[modality] = found.get(modality, 0) + tokens
    return found


__all__ = ["gemini_usage", "openai_usage", "seedream_usage", "with_usage"]
