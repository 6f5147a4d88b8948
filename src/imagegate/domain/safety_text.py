"""How prompt screening reads text: a normalizer that sees through common obfuscation, and
term sets compiled into regular expressions over the normalized text. Pure.

Prompts, terms and allow patterns go through the same normalization:
  1. NFKC (fullwidth, mathematical and circled letters become ASCII); format characters
     (zero-width spaces and joiners, soft hyphens, BOM) removed; confusable Cyrillic and Greek
     letters mapped to their Latin look-alikes; accents stripped; case folded.
  2. Letters split by punctuation ("n.a.k.e.d", "n-a-k-e-d") joined; other punctuation is a break.
  3. Runs of three or more one-character words ("n a k e d") are also fused into one string, and
     terms are searched inside it without word boundaries (the word breaks are lost there).
  4. Two views are searched: the text as written and with leetspeak ("n4k3d", "$3x") read as
     letters; a hit in either counts.
A term matches whole words; any letter may be repeated ("nuuude"); a trailing `*` matches any
ending ("decapitat*"); the words of a phrase may be written apart or together ("self harm",
"selfharm"). Patterns are regular expressions over the normalized text (lowercase ASCII letters
and digits, single spaces).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_CONFUSABLES = str.maketrans(
    {
        # Cyrillic
        "а": "a",
        "в": "b",
        "е": "e",
        "ё": "e",
        "к": "k",
        "м": "m",
        "н": "h",
        "о": "o",
        "р": "p",
        "с": "c",
        "т": "t",
        "у": "y",
        "х": "x",
        "ѕ": "s",
        "і": "i",
        "ї": "i",
        "ј": "j",
        "ԁ": "d",
        "ԛ": "q",
        "ԝ": "w",
        "һ": "h",
        "ӏ": "l",
        "ь": "b",
        "п": "n",
        "г": "r",
        "А": "a",
        "В": "b",
        "Е": "e",
        "К": "k",
        "М": "m",
        "Н": "h",
        "О": "o",
        "Р": "p",
        "С": "c",
        "Т": "t",
        "Х": "x",
        "У": "y",
        "Ѕ": "s",
        "І": "i",
        "Ј": "j",
        # Greek
        "α": "a",
        "β": "b",
        "ε": "e",
        "η": "n",
        "ι": "i",
        "κ": "k",
        "ν": "v",
        "ο": "o",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "χ": "x",
        "γ": "y",
        "ω": "w",
        "Α": "a",
        "Β": "b",
        "Ε": "e",
        "Ζ": "z",
        "Η": "h",
        "Ι": "i",
        "Κ": "k",
        "Μ": "m",
        "Ν": "n",
        "Ο": "o",
        "Ρ": "p",
        "Τ": "t",
        "Υ": "y",
        "Χ": "x",
        # Latin letters that do not decompose
        "ı": "i",
        "ɩ": "i",
        "ɡ": "g",
        "ɑ": "a",
        "ʟ": "l",
        "ł": "l",
        "ø": "o",
        "đ": "d",
        "ħ": "h",
        "æ": "ae",
        "œ": "oe",
        "ℓ": "l",
    }
)
_LEET = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "8": "b",
        "9": "g",
        "@": "a",
        "$": "s",
        "!": "i",
        "|": "l",
        "+": "t",
        "€": "e",
    }
)
_WORD = "a-z0-9"
_LEET_SYMBOLS = "@$!|+€"
_TOKEN_CHAR = f"[{_WORD}{re.escape(_LEET_SYMBOLS)}]"
_DOTTED = re.compile(rf"{_TOKEN_CHAR}(?:[.\-_*·'~:/\\^,=]+{_TOKEN_CHAR}){{2,}}")
_NON_WORD = re.compile(f"[^{_WORD}]+")
_HAS_LETTER = re.compile("[a-z]")
_EDGE_PUNCT = re.compile(rf"^[^{_WORD}{re.escape(_LEET_SYMBOLS)}]+|[^{_WORD}{re.escape(_LEET_SYMBOLS)}]+$")
_REPEATS = re.compile(r"(.)\1{2,}")
_FUSE_MIN_RUN = 3
_FUSED_TERM_MIN_CHARS = 3


class PolicyError(ValueError):
    """The policy data is malformed; the message names the offending entry."""


# ---------------------------------------------------------------------------------------------
# Normalization


@dataclass(frozen=True, slots=True)
class Normalized:
    """The prompt as the matcher searches it: word views plus fused one-letter runs."""

    views: tuple[str, ...]
    fused: tuple[str, ...] = ()


def fold(text: str) -> str:
    """Step 1: Unicode tricks undone, accents stripped, case folded."""
    if text.isascii():  # no compatibility form, format character, accent or confusable can be in it
        return _REPEATS.sub(r"\1\1", text.casefold())
    return fold_unicode(text)


def fold_unicode(text: str) -> str:
    """`fold` for any text, step by step (an ASCII text comes out of it as `fold`'s short cut has it)."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = text.translate(_CONFUSABLES)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _REPEATS.sub(r"\1\1", text.casefold().translate(_CONFUSABLES))


def _words(token: str, leet: bool) -> list[str]:
    token = _EDGE_PUNCT.sub("", token)
    if not token:
        return []
    if _DOTTED.fullmatch(token):
        token = "".join(ch for ch in token if ch.isalnum() or ch in _LEET_SYMBOLS)
    if leet and _HAS_LETTER.search(token):
        token = token.translate(_LEET)
    return [w for w in _NON_WORD.split(token) if w]


def _fuse(words: list[str], leet: bool, fused: list[str]) -> list[str]:
    """Collect runs of one-character words ("n a k e d" -> "naked") into `fused`; the words
    themselves stay as written, so patterns still see "9 y o"."""
    out: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        if len(word) == 1:
            run.append(word.translate(_LEET) if leet else word)
            continue
        if len(run) >= _FUSE_MIN_RUN:
            fused.append(_REPEATS.sub(r"\1\1", "".join(run)))
        out.extend(run)
        run = []
        if word:
            out.append(word)
    return out


def normalize(prompt: str) -> Normalized:
    return normalize_folded(fold(prompt))


def normalize_folded(folded: str) -> Normalized:
    """`normalize` of a text `fold` has already folded."""
    tokens = folded.split()
    fused: list[str] = []
    views = []
    for leet in (False, True):
        words = [w for token in tokens for w in _words(token, leet)]
        views.append(" ".join(_fuse(words, leet, fused)))
    return Normalized(tuple(dict.fromkeys(views)), tuple(dict.fromkeys(fused)))


# ---------------------------------------------------------------------------------------------
# Compiled term lists


def _letters(word: str) -> list[str]:
    """A word of a term as regex pieces that tolerate repeated letters: 'kill' -> k+ i+ l l+."""
    return [
        re.escape(ch) if i + 1 < len(word) and word[i + 1] == ch else re.escape(ch) + "+" for i, ch in enumerate(word)
    ]


def _term_pieces(term: str) -> tuple[list[str], list[str] | None]:
    """(pieces over the word views, pieces over fused runs or None) for one term."""
    words = []
    for raw in fold(term).split():
        star = raw.endswith("*")
        core = "".join(ch for ch in raw if ch.isalnum() and ch.isascii())
        if not core:
            raise PolicyError(f"the term {term!r} has an empty word")
        words.append((core, star))
    if not words:
        raise PolicyError("a term is empty")
    word_pieces: list[str] = []
    for index, (core, star) in enumerate(words):
        if index:
            word_pieces.append("[ ]?")
        word_pieces += _letters(core) + ([f"[{_WORD}]*"] if star else [])
    compact = "".join(core for core, _ in words)
    fused = _letters(compact) if len(compact) >= _FUSED_TERM_MIN_CHARS else None
    return word_pieces, fused


def _trie_regex(sequences: list[list[str]]) -> str:
    """One regex matching any of the piece sequences, factored by common prefixes so that a
    search costs about one alternative per position rather than one per term."""
    trie: dict[str, Any] = {}
    for pieces in sequences:
        node = trie
        for piece in pieces:
            node = node.setdefault(piece, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [piece + emit(child) if piece else "" for piece, child in node.items()]
        if len(branches) == 1:
            return branches[0]
        ordered = sorted(branches, key=lambda b: b == "")  # the end of a term last: longer first
        return "(?:" + "|".join(ordered) + ")"

    return emit(trie)


def compile_pattern(pattern: str, where: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise PolicyError(f"{where}: the pattern {pattern!r} is not a valid regular expression ({exc})") from exc
    return f"(?:{pattern})"


@dataclass(frozen=True, slots=True)
class TermSet:
    """Terms and patterns compiled into two alternations; `hit` is true if any matches."""

    words: re.Pattern[str] | None
    fused: re.Pattern[str] | None

    @classmethod
    def compile(cls, terms: Iterable[str], patterns: Iterable[str], where: str) -> TermSet:
        word_seqs, fused_seqs = [], []
        for term in terms:
            if not isinstance(term, str):
                raise PolicyError(f"{where}: terms must be strings, not {term!r}")
            word_pieces, fused_pieces = _term_pieces(term)
            word_seqs.append(word_pieces)
            if fused_pieces:
                fused_seqs.append(fused_pieces)
        word_parts = [f"(?<![{_WORD}]){_trie_regex(word_seqs)}(?![{_WORD}])"] if word_seqs else []
        fused_parts = [_trie_regex(fused_seqs)] if fused_seqs else []
        for pattern in patterns:
            if not isinstance(pattern, str):
                raise PolicyError(f"{where}: patterns must be strings, not {pattern!r}")
            word_parts.append(compile_pattern(pattern, where))
        return cls(
            re.compile("|".join(word_parts)) if word_parts else None,
            re.compile("|".join(fused_parts)) if fused_parts else None,
        )

    @property
    def empty(self) -> bool:
        return self.words is None and self.fused is None

    def hit(self, text: Normalized) -> bool:
        if self.words is not None and any(self.words.search(view) for view in text.views):
            return True
        return self.fused is not None and any(self.fused.search(run) for run in text.fused)


__all__ = [
    "Normalized",
    "PolicyError",
    "TermSet",
    "compile_pattern",
    "fold",
    "fold_unicode",
    "normalize",
    "normalize_folded",
]
