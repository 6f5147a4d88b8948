"""Masked spellings: `n*de`, `p**n`, `s#x`, `n@k*d` read as the listed word they hide.

A masked token is a word with one or more letters replaced by `*` or `#` (the characters people use
to censor a word, and to slip one past a filter). Each run of k mask characters may stand for 1 to
k+1 letters. A token is read as the policy's vocabulary words (every word of every listed term) it
can be; a token that can be none of them is left as written, so `Q*bert` or a `5*` rating stay as
they are. At least two letters must show: `**` alone is nobody's word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK_CHARS = "*#"
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
_MASKED_TOKEN = re.compile(r"[a-z0-9@$!]*[*#]+[a-z0-9@$!*#]*")
_EDGES = re.compile(r"^[^a-z0-9@$!*#]+|[^a-z0-9@$!*#]+$")
_MIN_SHOWN = 2


def vocabulary(terms: Iterable[str]) -> frozenset[str]:
    """The single words of the given terms, lowercase ASCII letters only; a word of a `*` term
    keeps its trailing `*` (a stem: `suicid*` reads `su*cide` as `suicide`)."""
    words = set()
    for term in terms:
        for word in term.lower().split():
            core = "".join(ch for ch in word if "a" <= ch <= "z")
            if len(core) >= 3:
                words.add(core + ("*" if word.endswith("*") else ""))
    return frozenset(words)


def unmask(folded: str, words: frozenset[str]) -> str | None:
    """`folded` (case-folded text) with each masked token replaced by the vocabulary words it can
    be (space-separated when several); None when no token was masked or none could be read."""
    changed = False
    out = []
    for token in folded.split():
        core = _EDGES.sub("", token)
        readings = _readings(core, words) if _MASKED_TOKEN.fullmatch(core) else []
        if readings:
            out.append(" ".join(readings))
            changed = True
        else:
            out.append(token)
    return " ".join(out) if changed else None


def _readings(token: str, words: frozenset[str]) -> list[str]:
    shown = token.translate(_LEET)
    if sum(ch.isalpha() for ch in shown) < _MIN_SHOWN:
        return []
    parts = re.split(r"([*#]+)", shown)
    pattern = "".join(f"[a-z]{{1,{len(p) + 1}}}" if p and p[0] in MASK_CHARS else re.escape(p) for p in parts)
    compiled = re.compile(pattern)
    found = set()
    for word in words:
        if not word.endswith("*"):
            if compiled.fullmatch(word):
                found.add(word)
            continue
        stem = word[:-1]  # the stem plus some ending of the token as written: "suicid" + "e"
        for cut in range(len(shown), -1, -1):  # the shortest ending first
            candidate = stem + shown[cut:]
            if not any(ch in MASK_CHARS for ch in candidate) and compiled.fullmatch(candidate):
                found.add(candidate)
                break
    return sorted(found)


__all__ = ["MASK_CHARS", "unmask", "vocabulary"]
