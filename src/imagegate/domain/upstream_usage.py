"""What an upstream says one call consumed: its tokens (OpenAI's `usage`, Gemini's `usageMetadata`)
or the images it bills (Seedream's `usage.generated_images`). The cost sheet prices it."""

from __future__ import annotations

from dataclasses import dataclass

MAX_REPORTED = 10**12
"""A count beyond this is not a real call's: the report is ignored (the cost is then estimated)."""


@dataclass(frozen=True, slots=True, eq=False)
class UpstreamUsage:
    """One upstream call's reported usage. Every image of the call carries the same object (compared
    by identity), so a call's usage is counted once however many images it made."""

    input_text_tokens: int = 0
    input_image_tokens: int = 0
    output_image_tokens: int = 0
    output_text_tokens: int = 0
    billed_images: int | None = None
    """Images the upstream says it bills for (Seedream); None where it reports tokens only."""

    @property
    def has_tokens(self) -> bool:
        return bool(
            self.input_text_tokens or self.input_image_tokens or self.output_image_tokens or self.output_text_tokens
        )


def count(value: object) -> int | None:
    """A reported count, or None when it is not a plausible one (not an int, negative, huge)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_REPORTED:
        return None
    return value


__all__ = ["MAX_REPORTED", "UpstreamUsage", "count"]
