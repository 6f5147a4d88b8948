"""The labelled evaluation set of the shipped safety policy: benign.txt and harmful.tsv."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
BENIGN = "benign"
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})")


@dataclass(frozen=True)
class Example:
    label: str  # "benign" or the category that should block it
    prompt: str


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)


def _lines(name: str) -> list[str]:
    lines = (HERE / name).read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def load() -> list[Example]:
    examples = [Example(BENIGN, line) for line in _lines("benign.txt")]
    for line in _lines("harmful.tsv"):
        label, prompt = line.split("\t", 1)
        examples.append(Example(label, _unescape(prompt)))
    return examples
