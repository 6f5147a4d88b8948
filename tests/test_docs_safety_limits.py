"""Every setting, CLI command and error code this feature adds is in docs/safety.md or docs/limits.md."""

from __future__ import annotations

from pathlib import Path

from imagegate.wiring import all_settings

DOCS = Path(__file__).resolve().parents[1] / "docs"
ADDED = (
    "IMAGEGATE_SAFETY_POLICY",
    "IMAGEGATE_AUDIT_PROMPTS",
    "IMAGEGATE_MODERATION_URL",
    "IMAGEGATE_MODERATION_API_KEY",
    "IMAGEGATE_MODERATION_MODEL",
    "IMAGEGATE_MODERATION_TIMEOUT_SECONDS",
    "IMAGEGATE_MODERATION_ON_ERROR",
    "IMAGEGATE_RATE_LIMIT_ON_ERROR",
    "IMAGEGATE_MAX_BODY_BYTES",
)


def docs_text() -> str:
    return (DOCS / "safety.md").read_text() + (DOCS / "limits.md").read_text()


def test_added_settings_are_real_and_documented_with_their_defaults() -> None:
    settings = {s.name: s for s in all_settings()}
    text = docs_text()
    for name in ADDED:
        assert name in settings
        row = next(line for line in text.splitlines() if line.startswith(f"| {name} |"))
        default = settings[name].default
        assert default is None or f"`{default}`" in row, (name, row)


def test_cli_commands_and_codes_are_documented() -> None:
    text = docs_text()
    for needle in (
        "imagegate blocks list",
        "imagegate accounts safety",
        "imagegate accounts limits",
        "--ipm",
        "rate_limiter_unavailable",
        "moderation_unavailable",
        "request_too_large",
        "x-imagegate-block-stage",
    ):
        assert needle in text, needle
