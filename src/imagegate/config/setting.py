"""A setting, declared once: its environment variable, default, what it does, and how its text is read.

A section of the settings is a frozen dataclass whose fields are declared with `setting(...)`
(Starlette's `Config(key, cast, default)`, Datasette's `Setting(name, default, help)`); `read_section`
builds one from the environment, and everything else (the README table, `imagegate doctor`, the
loader) reads the same declarations. Providers declare their credential variables as bare `Setting`s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar


class SettingError(ValueError):
    """A variable whose value cannot be used; the message names it."""

    def __init__(self, setting: Setting, message: str) -> None:
        super().__init__(message)
        self.setting = setting


def text(value: str) -> str:
    return value


def integer(low: int | None = None, high: int | None = None, *, clamp: bool = False) -> Callable[[str], int]:
    """A whole number within [low, high]; with `clamp`, one outside is taken as the nearest bound."""

    def read(value: str) -> int:
        try:
            found = int(value.strip())
        except ValueError:
            raise ValueError("must be a whole number") from None
        if clamp:
            return min(max(found, low if low is not None else found), high if high is not None else found)
        if (low is not None and found < low) or (high is not None and found > high):
            raise ValueError(_range(low, high))
        return found

    return read


def number(low: float | None = None, high: float | None = None) -> Callable[[str], float]:
    """A number within [low, high] (unbounded where None)."""

    def read(value: str) -> float:
        try:
            found = float(value)
        except ValueError:
            raise ValueError("must be a number") from None
        if (low is not None and not found >= low) or (high is not None and not found <= high):
            raise ValueError(_range(low, high))
        return found

    return read


def _range(low: float | None, high: float | None) -> str:
    if low is None:
        return f"must be at most {high:g}"
    return f"must be at least {low:g}" if high is None else f"must be between {low:g} and {high:g}"


def seconds(value: str) -> float:
    """A positive, finite number of seconds."""
    try:
        found = float(value)
    except ValueError:
        found = float("nan")
    if not 0 < found < float("inf"):
        raise ValueError("must be a positive number of seconds")
    return found


def lower(value: str) -> str:
    return value.lower()


def flag(value: str) -> bool:
    found = value.strip().lower()
    if found not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError("must be true or false")
    return found in ("true", "1", "yes")


def one_of(*choices: str) -> Callable[[str], str]:
    def read(value: str) -> str:
        found = value.strip().lower()
        if found not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return found

    return read


def choice_is(choices: tuple[str, str]) -> Callable[[str], bool]:
    """Two words, read as a bool: True for the first (`open`/`closed` -> fail open?)."""
    words = one_of(*choices)

    def read(value: str) -> bool:
        try:
            return words(value) == choices[0]
        except ValueError:
            raise ValueError(f"must be {choices[0]!r} or {choices[1]!r}") from None

    return read


def path(value: str) -> Path:
    return Path(value).expanduser()


@dataclass(frozen=True, slots=True)
class Setting:
    """One environment variable: its name, its default as written in the README, what it does, and
    how its text becomes a value (`cast` raises `ValueError` saying what it must be)."""

    name: str
    default: str | None
    help: str
    cast: Callable[[str], Any] = text

    def read(self, env: Mapping[str, str], fallback: Callable[[], str | None] | None = None) -> Any:
        """The value `env` gives (an empty variable is unset), else the default, else `fallback()`'s
        text (a default that depends on other settings), else None."""
        given = env.get(self.name) or None
        raw = given if given is not None else self.default
        if raw is None and fallback is not None:
            raw = fallback()
        if raw is None:
            return None
        try:
            return self.cast(raw)
        except ValueError as exc:
            raise SettingError(self, f"{self.name} {exc}, not {raw!r}") from None


def setting(name: str, default: str | None, help: str, cast: Callable[[str], Any] = text) -> Any:
    """A field of a settings section, read from the variable `name` (see `Setting`)."""
    return dataclasses.field(metadata={"setting": Setting(name, default, help, cast)})


class Section(Protocol):
    """A settings section: a frozen dataclass of `setting(...)` fields."""

    __dataclass_fields__: ClassVar[dict[str, Any]]


S = TypeVar("S", bound=Section)


def declared(section: type[Section]) -> tuple[Setting, ...]:
    """The settings a section declares, in order."""
    return tuple(f.metadata["setting"] for f in dataclasses.fields(section) if "setting" in f.metadata)


def read_section(
    section: type[S], env: Mapping[str, str], fallbacks: Mapping[str, Callable[[], str | None]] | None = None
) -> S:
    """The section as `env` gives it. Raises `SettingError`, naming the variable, for a value it refuses."""
    values = {
        f.name: f.metadata["setting"].read(env, (fallbacks or {}).get(f.metadata["setting"].name))
        for f in dataclasses.fields(section)
    }
    return section(**values)


__all__ = [
    "Section",
    "Setting",
    "SettingError",
    "choice_is",
    "declared",
    "flag",
    "integer",
    "lower",
    "number",
    "one_of",
    "path",
    "read_section",
    "seconds",
    "setting",
    "text",
]
