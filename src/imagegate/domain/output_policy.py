"""What blocks a delivered image: the output-screening part of the safety policy. Pure.

A classifier reads an image and gives scores by its own signal names: the local detector (NudeNet)
one per detected class (`FEMALE_GENITALIA_EXPOSED`, ...), OpenAI's moderations endpoint one per
category (`sexual`, `violence/graphic`, ...). Each output category names, per classifier, the signals
it watches and the score at which each counts; the first matching category whose action is `block`
refuses the image, `flag` ones leave an audit record. The format is documented in docs/safety.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from .safety_text import PolicyError

CLASSIFIERS = ("local", "moderation")
"""The signal tables a category may have: `IMAGEGATE_OUTPUT_SCREENING`'s modes."""
_ACTIONS = ("block", "flag", "off")
_KEYS = ("label", "action", *CLASSIFIERS, "replace")


class _Acting(Protocol):
    @property
    def action(self) -> str: ...


_C = TypeVar("_C", bound=_Acting)


def first_block(categories: Iterable[_C], matches: Callable[[_C], bool]) -> tuple[_C | None, tuple[_C, ...]]:
    """A policy's verdict, for prompts and for images alike: the first matching `block` category (or
    None), and the matching `flag` categories before it; `off` ones are passed over."""
    flagged: list[_C] = []
    for category in categories:
        if category.action == "off" or not matches(category):
            continue
        if category.action == "block":
            return category, tuple(flagged)
        flagged.append(category)
    return None, tuple(flagged)


@dataclass(frozen=True, slots=True)
class OutputCategory:
    name: str
    label: str
    action: str
    thresholds: Mapping[str, Mapping[str, float]]
    """classifier -> signal -> the score at or above which the signal counts."""

    def matches(self, classifier: str, scores: Mapping[str, float]) -> bool:
        watched = self.thresholds.get(classifier, {})
        return any(scores.get(signal, 0.0) >= threshold for signal, threshold in watched.items())


@dataclass(frozen=True, slots=True)
class OutputVerdict:
    """The verdict on one image: the category that blocks it (if any) and those that flag it."""

    blocked: OutputCategory | None
    flagged: tuple[OutputCategory, ...] = ()


@dataclass(frozen=True, slots=True)
class OutputPolicy:
    categories: tuple[OutputCategory, ...] = ()

    def judge(self, classifier: str, scores: Mapping[str, float]) -> OutputVerdict:
        return OutputVerdict(*first_block(self.categories, lambda c: c.matches(classifier, scores)))

    def names(self) -> frozenset[str]:
        return frozenset(c.name for c in self.categories)

    def stricter(self, block_categories: Iterable[str]) -> OutputPolicy:
        """The named `flag` or `off` categories made blocking (an account's stricter policy)."""
        names = set(block_categories)
        return OutputPolicy(tuple(replace(c, action="block") if c.name in names else c for c in self.categories))


def detector_scores(detections: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """NudeNet's detections (`[{"class", "score", "box"}, ...]`) as the highest score per class."""
    scores: dict[str, float] = {}
    for detection in detections:
        name, score = str(detection["class"]), float(detection["score"])
        scores[name] = max(score, scores.get(name, 0.0))
    return scores


def merge_output(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """An operator's `[output]` over the shipped one: `label` and `action` replace, a classifier's
    thresholds are merged signal by signal (`replace = true`: the category is replaced whole)."""
    _check_keys(extra, ("categories",), "output")
    categories = {name: dict(table) for name, table in _table(base.get("categories", {}), "output.categories").items()}
    for name, table in _table(extra.get("categories", {}), "output.categories").items():
        where = f"output.categories.{name}"
        table = _table(table, where)
        _check_keys(table, _KEYS, where)
        current = {} if table.get("replace") else dict(categories.get(name, {}))
        for key in ("label", "action"):
            if key in table:
                current[key] = table[key]
        for classifier in CLASSIFIERS:
            if classifier in table:
                current[classifier] = {
                    **_table(current.get(classifier, {}), f"{where}.{classifier}"),
                    **_table(table[classifier], f"{where}.{classifier}"),
                }
        categories[name] = current
    return {"categories": categories}


def build_output(data: Mapping[str, Any]) -> OutputPolicy:
    _check_keys(data, ("categories",), "output")
    return OutputPolicy(
        tuple(
            _category(name, _table(table, f"output.categories.{name}"))
            for name, table in _table(data.get("categories", {}), "output.categories").items()
        )
    )


def _category(name: str, table: Mapping[str, Any]) -> OutputCategory:
    where = f"output.categories.{name}"
    _check_keys(table, _KEYS, where)
    action = table.get("action", "block")
    if action not in _ACTIONS:
        raise PolicyError(f"{where}.action must be one of {', '.join(_ACTIONS)}, not {action!r}")
    label = table.get("label", name.replace("_", " "))
    if not isinstance(label, str) or not label:
        raise PolicyError(f"{where}.label must be a non-empty string")
    thresholds: dict[str, dict[str, float]] = {}
    for classifier in CLASSIFIERS:
        signals = _table(table.get(classifier, {}), f"{where}.{classifier}")
        for signal, threshold in signals.items():
            if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
                raise PolicyError(f"{where}.{classifier}.{signal} must be a score above 0 and at most 1")
        thresholds[classifier] = {signal: float(score) for signal, score in signals.items()}
    if not any(thresholds.values()):
        raise PolicyError(f"{where} watches no signal (give `local` or `moderation` thresholds)")
    return OutputCategory(name, label, action, thresholds)


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise PolicyError(f"{where} must be a table")
    return dict(value)


def _check_keys(table: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise PolicyError(f"{where}: unknown key(s) {', '.join(unknown)}")


__all__ = [
    "CLASSIFIERS",
    "OutputCategory",
    "OutputPolicy",
    "OutputVerdict",
    "build_output",
    "detector_scores",
    "first_block",
    "merge_output",
]
