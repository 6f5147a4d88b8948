"""Prompt screening policy: categories and rules as data, and the screening verdict. Pure.

The policy arrives as plain dicts (parsed TOML), the prompt as a string; the file format is documented
in `docs/safety.md`, the shipped policy is `imagegate/safety_policy.toml`. How text is normalized and
matched is `safety_text`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .masking import unmask, vocabulary
from .output_policy import OutputPolicy, build_output, first_block, merge_output
from .safety_text import Normalized, PolicyError, TermSet, compile_pattern, fold, normalize, normalize_folded

ACTIONS = ("block", "flag", "off")
ACCOUNT_CATEGORY = "account_policy"


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
    output: OutputPolicy = field(default_factory=OutputPolicy)
    """What blocks a delivered image (`[output]`; output screening, `domain.output_policy`)."""
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
        """Names that are neither a prompt category nor an output category."""
        output = self.output.names()
        return [name for name in names if name not in self._by_name and name not in output]

    def prepare(self, prompt: str) -> Normalized:
        folded = fold(prompt)
        text = normalize_folded(folded)
        unmasked = unmask(folded, self.words) if self.words else None
        if unmasked is not None:  # a third view: the masked words read as the listed words they hide
            extra = normalize(unmasked)
            text = Normalized(
                tuple(dict.fromkeys((*text.views, *extra.views))), tuple(dict.fromkeys((*text.fused, *extra.fused)))
            )
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
        return Screening(*first_block(self.categories, lambda c: c.matches(text, hits)))

    def stricter(self, extra: AccountSafety) -> SafetyPolicy:
        """This policy plus an account's additions: flagged or disabled categories it names
        become blocking, and its own terms block. Nothing is ever loosened. Names this policy
        does not have are ignored (`unknown_categories` is for checking them up front)."""
        categories = [replace(c, action="block") if c.name in extra.block_categories else c for c in self.categories]
        if extra.block_terms:
            terms = TermSet.compile(extra.block_terms, (), f"categories.{ACCOUNT_CATEGORY}")
            categories.append(Category(ACCOUNT_CATEGORY, "this account's content policy", "block", (Rule(terms),)))
        output = self.output.stricter(extra.block_categories)
        return SafetyPolicy(self.lists, tuple(categories), self.allow, self.words, output)


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
    _check_keys(extra, ("version", "allow", "lists", "categories", "output"), "policy")
    merged = _plain(base)
    if "output" in extra:
        merged["output"] = merge_output(_table(merged.get("output", {}), "output"), _table(extra["output"], "output"))
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
    _check_keys(data, ("version", "allow", "lists", "categories", "output"), "policy")
    allow_table = _table(data.get("allow", {}), "allow")
    _check_keys(allow_table, ("patterns", "replace"), "allow")
    allow = tuple(
        re.compile(compile_pattern(p, "allow.patterns"))
        for p in _strings(allow_table.get("patterns"), "allow.patterns")
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
    output = build_output(_table(data.get("output", {}), "output"))
    clash = sorted(output.names() & {c.name for c in categories})
    if clash:
        raise PolicyError(f"output.categories: {', '.join(clash)} is already a prompt category's name")
    return SafetyPolicy(lists, categories, allow, vocabulary(all_terms), output)


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
            _strings(rule.get("terms"), f"{rule_where}.terms"),
            _strings(rule.get("patterns"), f"{rule_where}.patterns"),
            rule_where,
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
    "PolicyError",
    "Rule",
    "SafetyPolicy",
    "Screening",
]
