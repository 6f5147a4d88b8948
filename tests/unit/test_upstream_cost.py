"""The cost of one upstream call: each wire format's usage report as read, priced by a route's sheet,
summed exactly and rounded once; hostile reports are ignored (the cost is then an estimate)."""

from __future__ import annotations

from typing import Any

import pytest

from imagegate.domain.upstream_cost import (
    CostSheet,
    CostSheetError,
    SpentCall,
    UpstreamCost,
    call_cost,
    calls_cost,
    parse_cost_sheet,
)
from imagegate.domain.upstream_usage import UpstreamUsage
from imagegate.providers.usage import gemini_usage, openai_usage, seedream_usage

SHEET = parse_cost_sheet(
    "test",
    {
        "tokens": {"input_text": 5_000_000, "input_image": 8_000_000, "output_image": 30_000_000},
        "per_image": {"low": {"1024x1024": 6_000, "*": 9_000}, "high": {"1024x1024": 211_000, "*": 317_000}},
    },
)


def test_openai_usage_splits_input_and_output_by_their_details() -> None:
    body = {
        "usage": {
            "input_tokens": 373,
            "input_tokens_details": {"image_tokens": 323, "text_tokens": 50},
            "output_tokens": 1100,
            "output_tokens_details": {"image_tokens": 1056, "text_tokens": 44},
            "total_tokens": 1473,
        }
    }
    usage = openai_usage(body)
    assert usage is not None
    got = (usage.input_text_tokens, usage.input_image_tokens, usage.output_image_tokens, usage.output_text_tokens)
    assert got == (50, 323, 1056, 44)
    plain = openai_usage({"usage": {"input_tokens": 50, "output_tokens": 272}})
    assert plain is not None and (plain.input_text_tokens, plain.output_image_tokens) == (50, 272)


def test_gemini_usage_reads_modalities_and_bills_thinking_as_output_text() -> None:
    body = {
        "usageMetadata": {
            "promptTokenCount": 274,
            "candidatesTokenCount": 1130,
            "thoughtsTokenCount": 200,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 16}, {"modality": "IMAGE", "tokenCount": 258}],
            "candidatesTokensDetails": [
                {"modality": "IMAGE", "tokenCount": 1120},
                {"modality": "TEXT", "tokenCount": 10},
            ],
        }
    }
    usage = gemini_usage(body)
    assert usage is not None
    got = (usage.input_text_tokens, usage.input_image_tokens, usage.output_image_tokens, usage.output_text_tokens)
    assert got == (16, 258, 1120, 210)


def test_seedream_usage_is_the_billed_image_count() -> None:
    usage = seedream_usage({"usage": {"generated_images": 2, "output_tokens": 32640, "total_tokens": 32640}})
    assert usage is not None and usage.billed_images == 2 and not usage.has_tokens


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"usage": None},
        {"usage": "lots"},
        {"usage": {"input_tokens": -1, "output_tokens": 10}},
        {"usage": {"input_tokens": True, "output_tokens": 10}},
        {"usage": {"input_tokens": 10**30, "output_tokens": 10}},
        {"usage": {"input_tokens": 1.5, "output_tokens": 10}},
        {"usage": {"input_tokens": "50", "output_tokens": 10}},
        [],
    ],
)
def test_an_openai_report_that_is_not_one_reads_as_none(body: Any) -> None:
    assert openai_usage(body) is None


@pytest.mark.parametrize(
    "meta", [None, "x", {"promptTokenCount": -1}, {"candidatesTokenCount": 10**30}, {"thoughtsTokenCount": "9"}]
)
def test_a_gemini_or_seedream_report_that_is_not_one_reads_as_none(meta: Any) -> None:
    assert gemini_usage({"usageMetadata": meta}) is None
    assert seedream_usage({"usage": {"generated_images": meta}}) is None


def test_tokens_are_priced_exactly_and_rounded_once_half_up() -> None:
    assert SHEET is not None
    usage = UpstreamUsage(input_text_tokens=1, output_image_tokens=0)
    one = SpentCall("openai", 1, "low", "1024x1024", ((usage, 1),))
    assert call_cost(SHEET, one) == UpstreamCost(5_000_000)  # 5 micro-USD per million tokens: 5e6 picos
    assert call_cost(SHEET, one).micros == 5
    tiny = SpentCall("openai", 1, "low", "1024x1024", ((UpstreamUsage(input_text_tokens=1), 1),))
    half = CostSheet(input_text=500_000)
    assert call_cost(half, tiny).micros == 1  # 0.5 micro-USD rounds up
    # three calls of 0.5 micro-USD each: summed first (1.5), then rounded once (2), never 3
    assert calls_cost({"openai": half}, (tiny, tiny, tiny)).micros == 2


def test_what_the_sheet_cannot_price_is_the_per_image_figure_marked_an_estimate() -> None:
    assert SHEET is not None
    unreported = SpentCall("openai", 2, "high", "1536x1024", unreported=2)
    assert call_cost(SHEET, unreported) == UpstreamCost(2 * 317_000 * 10**6, estimated=True)
    billed = SpentCall("ark", 2, None, "2048x2048", ((UpstreamUsage(billed_images=1), 2),))
    flat = CostSheet(per_image={"standard": {"*": 40_000}})
    assert call_cost(flat, billed) == UpstreamCost(40_000 * 10**6)  # billed count, not an estimate
    unknown_quality = SpentCall("openai", 1, "ultra", "1024x1024", unreported=1)
    assert call_cost(SHEET, unknown_quality).micros == 211_000  # the dearest row
    assert call_cost(None, unreported) == UpstreamCost(0, estimated=True)


@pytest.mark.parametrize(
    "raw",
    [
        {"tokens": {"input_text": -1}},
        {"tokens": {"input_text": 1.5}},
        {"tokens": {"input_text": True}},
        {"tokens": {"input_text": 10**11}},
        {"tokens": {"cached": 1}},
        {"per_image": {"low": {"1024x1024": 10**11}}},
        {"per_image": {"low": 5}},
        {"per_request": 1},
        "cheap",
    ],
)
def test_a_malformed_sheet_refuses_to_load(raw: Any) -> None:
    with pytest.raises(CostSheetError):
        parse_cost_sheet("test", raw)
