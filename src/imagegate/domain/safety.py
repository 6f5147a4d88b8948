"""Prompt screening: the policy (data) and a matcher that sees through common obfuscation.

Pure: the policy arrives as plain dicts (parsed TOML), the prompt as a string. The file format is
documented in `docs/safety.md`; the shipped policy is `imagegate/safety_policy.toml`.

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .masking import unmask, vocabulary

ACTIONS = ("block", "flag", "off")
ACCOUNT_CATEGORY = "account_policy"

_CONFUSABLES = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
        "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d",
        "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ь": "b", "п": "n", "г": "r",
        "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m", "Н": "h", "О": "o", "Р": "p", "С": "c",
        "Т": "t", "Х": "x", "У": "y", "Ѕ": "s", "І": "i", "Ј": "j",
        # Greek
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
        "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ω": "w", "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z",
        "Η": "h", "Ι": "i", "Κ": "k", "Μ": "m", "Ν": "n", "Ο": "o", "Ρ": "p", "Τ": "t", "Υ": "y",
        "Χ": "x",
        # Latin letters that do not decompose
        "ı": "i", "ɩ": "i", "ɡ": "g", "ɑ": "a", "ʟ": "l", "ł": "l", "ø": "o", "đ": "d", "ħ": "h",
        "æ": "ae", "œ": "oe", "ℓ": "l",
    }
)
_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
     "@": "a", "$": "s", "!": "i", "|": "l", "+": "t", "€": "e"}
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
    tokens = fold(prompt).split()
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
        re.escape(ch) if i + 1 < len(word) and word[i + 1] == ch else re.escape(ch) + "+"
        for i, ch in enumerate(word)
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


def _compile_pattern(pattern: str, where: str) -> str:
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
            word_parts.append(_compile_pattern(pattern, where))
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


# ---------------------------------------------------------------------------------------------
# Policy


@dataclass(frozen=True, slots=True)
class Rule:
    """Fires when any of its own terms hits (if it has any), every list in `all` hits, and no
    list in `unless` hits."""

    terms: TermSet
    all: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()

    def fires(self, text: Normalized, hits: _ListHits) -> bool:
        if not self.terms.empty and not self.terms.hit(text):
            return False
        return all(hits(name) for name in self.all) and not any(hits(name) for name in self.unless)


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    label: str
    action: str
    rules: tuple[Rule, ...]

    def matches(self, text: Normalized, hits: _ListHits) -> bool:
        return any(rule.fires(text, hits) for rule in self.rules)


@dataclass(frozen=True, slots=True)
class Screening:
    """The verdict on one prompt: the category that blocks it (if any) and those that flag it."""

    blocked: Category | None
    flagged: tuple[Category, ...] = ()


@dataclass(frozen=True, slots=True)
class AccountSafety:
    """An account's additions to the deployment policy. They can only make it stricter."""

    block_terms: tuple[str, ...] = ()
    block_categories: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.block_terms and not self.block_categories


class _ListHits:
    """Memoized list lookups for one prompt."""

    def __init__(self, lists: Mapping[str, TermSet], text: Normalized) -> None:
        self._lists = lists
        self._text = text
        self._memo: dict[str, bool] = {}

    def __call__(self, name: str) -> bool:
        if name not in self._memo:
            self._memo[name] = self._lists[name].hit(self._text)
        return self._memo[name]


@dataclass(frozen=True)
class SafetyPolicy:
    lists: Mapping[str, TermSet]
    categories: tuple[Category, ...]
    allow: tuple[re.Pattern[str], ...] = ()
    words: frozenset[str] = frozenset()
    """Every word of every listed term: what a masked spelling (`n*de`) may stand for."""
    _by_name: Mapping[str, Category] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {c.name: c for c in self.categories})

    @classmethod
    def from_dicts(cls, shipped: Mapping[str, Any], *operator: Mapping[str, Any]) -> SafetyPolicy:
        """The shipped policy with each operator file merged over it (see docs/safety.md)."""
        data = _plain(shipped)
        for extra in operator:
            data = _merge_policy(data, extra)
        return _build(data)

    def category(self, name: str) -> Category | None:
        return self._by_name.get(name)

    def unknown_categories(self, names: Iterable[str]) -> list[str]:
        return [name for name in names if name not in self._by_name]

    def prepare(self, prompt: str) -> Normalized:
        text = normalize(prompt)
        unmasked = unmask(fold(prompt), self.words) if self.words else None
        if unmasked is not None:  # a third view: the masked words read as the listed words they hide
            extra = normalize(unmasked)
            text = Normalized(tuple(dict.fromkeys((*text.views, *extra.views))), tuple(dict.fromkeys((*text.fused, *extra.fused))))
        if not self.allow:
            return text
        views = []
        for view in text.views:
            for pattern in self.allow:
                view = pattern.sub(" ", view)
            views.append(view)
        return Normalized(tuple(views), text.fused)

    def screen(self, prompt: str) -> Screening:
        text = self.prepare(prompt)
        hits = _ListHits(self.lists, text)
        flagged: list[Category] = []
        for category in self.categories:
            if category.action == "off" or not category.matches(text, hits):
                continue
            if category.action == "block":
                return Screening(category, tuple(flagged))
            flagged.append(category)
        return Screening(None, tuple(flagged))

    def stricter(self, extra: AccountSafety) -> SafetyPolicy:
        """This policy plus an account's additions: flagged or disabled categories it names
        become blocking, and its own terms block. Nothing is ever loosened. Names this policy
        does not have are ignored (`unknown_categories` is for checking them up front)."""
        categories = [
            replace(c, action="block") if c.name in extra.block_categories else c for c in self.categories
        ]
        if extra.block_terms:
            terms = TermSet.compile(extra.block_terms, (), f"categories.{ACCOUNT_CATEGORY}")
            categories.append(Category(ACCOUNT_CATEGORY, "this account's content policy", "block", (Rule(terms),)))
        return SafetyPolicy(self.lists, tuple(categories), self.allow, self.words)


# ---------------------------------------------------------------------------------------------
# Loading and merging


def _plain(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: _plain(value) if isinstance(value, Mapping) else (list(value) if isinstance(value, list) else value)
        for key, value in data.items()
    }


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{where} must be a list of strings")
    return list(value)


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise PolicyError(f"{where} must be a table")
    return dict(value)


def _check_keys(table: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise PolicyError(f"{where}: unknown key(s) {', '.join(unknown)}")


def _merge_policy(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Operator data over the shipped data: lists and rules extend unless `replace = true`."""
    _check_keys(extra, ("version", "allow", "lists", "categories"), "policy")
    merged = _plain(base)
    allow = _table(extra.get("allow", {}), "allow")
    _check_keys(allow, ("patterns", "replace"), "allow")
    old = [] if allow.get("replace") else merged.get("allow", {}).get("patterns", [])
    merged["allow"] = {"patterns": [*old, *_strings(allow.get("patterns"), "allow.patterns")]}
    lists = merged.setdefault("lists", {})
    for name, table in _table(extra.get("lists", {}), "lists").items():
        table = _table(table, f"lists.{name}")
        _check_keys(table, ("terms", "patterns", "replace"), f"lists.{name}")
        current = {} if table.get("replace") else lists.get(name, {})
        lists[name] = {
            key: [*current.get(key, []), *_strings(table.get(key), f"lists.{name}.{key}")]
            for key in ("terms", "patterns")
        }
    categories = merged.setdefault("categories", {})
    for name, table in _table(extra.get("categories", {}), "categories").items():
        table = _table(table, f"categories.{name}")
        _check_keys(table, ("label", "action", "rules", "replace"), f"categories.{name}")
        current = {} if table.get("replace") else dict(categories.get(name, {}))
        for key in ("label", "action"):
            if key in table:
                current[key] = table[key]
        current["rules"] = [*current.get("rules", []), *table.get("rules", [])]
        categories[name] = current
    return merged


def _build(data: Mapping[str, Any]) -> SafetyPolicy:
    _check_keys(data, ("version", "allow", "lists", "categories"), "policy")
    allow_table = _table(data.get("allow", {}), "allow")
    _check_keys(allow_table, ("patterns", "replace"), "allow")
    allow = tuple(
        re.compile(_compile_pattern(p, "allow.patterns")) for p in _strings(allow_table.get("patterns"), "allow.patterns")
    )
    lists: dict[str, TermSet] = {}
    all_terms: list[str] = []
    for name, table in _table(data.get("lists", {}), "lists").items():
        table = _table(table, f"lists.{name}")
        _check_keys(table, ("terms", "patterns", "replace"), f"lists.{name}")
        where = f"lists.{name}"
        all_terms += _strings(table.get("terms"), f"{where}.terms")
        lists[name] = TermSet.compile(
            _strings(table.get("terms"), f"{where}.terms"), _strings(table.get("patterns"), f"{where}.patterns"), where
        )
    category_tables = _table(data.get("categories", {}), "categories")
    categories = tuple(
        _build_category(name, _table(table, f"categories.{name}"), lists) for name, table in category_tables.items()
    )
    for table in category_tables.values():  # rules' own terms are vocabulary too (validated above)
        all_terms += [t for rule in table.get("rules", []) for t in rule.get("terms", [])]
    return SafetyPolicy(lists, categories, allow, vocabulary(all_terms))


def _build_category(name: str, table: Mapping[str, Any], lists: Mapping[str, TermSet]) -> Category:
    where = f"categories.{name}"
    _check_keys(table, ("label", "action", "rules", "replace"), where)
    action = table.get("action", "block")
    if action not in ACTIONS:
        raise PolicyError(f"{where}.action must be one of {', '.join(ACTIONS)}, not {action!r}")
    label = table.get("label", name.replace("_", " "))
    if not isinstance(label, str) or not label:
        raise PolicyError(f"{where}.label must be a non-empty string")
    rules = []
    for index, rule in enumerate(table.get("rules", [])):
        rule_where = f"{where}.rules[{index}]"
        rule = _table(rule, rule_where)
        _check_keys(rule, ("terms", "patterns", "all", "unless"), rule_where)
        terms = TermSet.compile(
            _strings(rule.get("terms"), f"{rule_where}.terms"), _strings(rule.get("patterns"), f"{rule_where}.patterns"), rule_where
        )
        all_of = tuple(_strings(rule.get("all"), f"{rule_where}.all"))
        unless = tuple(_strings(rule.get("unless"), f"{rule_where}.unless"))
        missing = [n for n in (*all_of, *unless) if n not in lists]
        if missing:
            raise PolicyError(f"{rule_where} names unknown list(s): {', '.join(missing)}")
        if terms.empty and not all_of:
            raise PolicyError(f"{rule_where} needs terms, patterns or all")
        rules.append(Rule(terms, all_of, unless))
    if not rules:
        raise PolicyError(f"{where} has no rules")
    return Category(name, label, action, tuple(rules))


__all__ = [
    "ACCOUNT_CATEGORY",
    "ACTIONS",
    "AccountSafety",
    "Category",
    "Normalized",
    "PolicyError",
    "Rule",
    "SafetyPolicy",
    "Screening",
    "TermSet",
    "fold",
    "normalize",
]
