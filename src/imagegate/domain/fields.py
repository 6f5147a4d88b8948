"""Declared fields: the one description of a request field that its check and the API document both read.

A `Field` names a field of a JSON body (or a query or path parameter) with its JSON kind, bounds,
choices and meaning. `read_fields` checks a body against its fields with the contract's errors, each
naming the field: an unknown field is `unknown_parameter`, a missing required one
`missing_required_parameter`, a value of the wrong JSON type `invalid_type`, one out of bounds
`invalid_value`; `null` counts as not given. A `Requires` rule ties a field to another one (a value
that only means something with certain values of the other). `http/openapi_schema.py` renders the
same declarations as JSON Schema, so the document cannot promise what the check refuses.
The same `Field` also describes an answer's fields (`nullable`, `shape`), for the document only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .errors import InvalidRequest
from .money import Sign
from .text import check_text

Kind = Literal["string", "integer", "number", "boolean", "array", "object", "amount", "file", "any"]
"""JSON kinds; `amount`: US dollars as a decimal string or a JSON number (`domain/money.py`); `file`: a
form's file part, its `choices` the media types taken; `any`: any JSON value (a field accepted and
ignored); `object` with `fields`: an object of its own declared fields."""

_ARTICLE = {"integer": "an integer", "array": "a list", "object": "an object", "amount": "an amount"}


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kind: Kind
    doc: str = ""
    required: bool = False
    default: Any = None
    """What a request that leaves the field out (or sends null) gets."""
    choices: tuple[Any, ...] = ()
    """The only values taken (empty: any value of the kind)."""
    offered: bool = True
    """False: the field may not be given here (a model without qualities; 400 `unsupported_parameter`)."""
    minimum: int | None = None
    maximum: int | None = None
    """Bounds of an integer; of an `amount`, in micros (its sign is `sign`)."""
    max_chars: int | None = None
    non_blank: bool = False
    """A string with at least one character that is not white space."""
    pattern: str | None = None
    """What a string must look like: a regular expression (Python's and ECMA 262's alike) it matches whole."""
    form: str | None = None
    """A pattern the value's own check enforces, after the checks whose refusals say more (a webhook
    URL's): the document gives it, `check_value` leaves it to that check."""
    sign: Sign = "any"
    items: Field | None = None
    """An array's elements."""
    shape: str | None = None
    """An answer's object, or its array's elements: the named shape (`http/api_shapes.py`)."""
    nullable: bool = False
    """An answer's field that may be null (a request's `null` always counts as not given)."""
    fields: tuple[Field, ...] | None = None
    """An object's own fields (read with `read_fields`: any other name is refused)."""
    rules: tuple[Rule, ...] = ()
    """An object's rules between its own fields."""
    values: Field | None = None
    """An object whose names are free (at most `max_items` pairs, each at most `max_chars` characters
    long): what each value is; with `fields`, what any name beyond them holds."""
    variants: tuple[Field, ...] = ()
    """The value is one of these (a string or a list of parts); objects among them are told apart by
    their `type` field (its `choices`)."""
    min_items: int | None = None
    max_items: int | None = None
    """Bounds of an array's length (of an object's pairs, for `values`)."""
    contains: tuple[Any, ...] = ()
    """What an array must hold, each: a value (chat's `modalities` holds "image"), or a `Field` one of
    its items must be (its `doc` says what, in the refusal)."""


@dataclass(frozen=True, slots=True)
class Requires:
    """`field`, when given (or when it is `when`), needs `other` to be one of `allowed`.

    `other` left out counts as `default`. `message` is the refusal (400 `invalid_value`, param
    `field`); `{other}` in it is replaced by the other field's value.
    """

    field: str
    other: str
    allowed: tuple[Any, ...]
    message: str
    when: Any = None
    default: Any = None

    def applies(self, values: Mapping[str, Any]) -> bool:
        value = values.get(self.field)
        return value is not None and (self.when is None or value == self.when)

    def check(self, values: Mapping[str, Any]) -> None:
        if not self.applies(values):
            return
        other = values.get(self.other)
        other = self.default if other is None else other
        if other not in self.allowed:
            raise InvalidRequest(self.message.format(other=other), code="invalid_value", param=self.field)


@dataclass(frozen=True, slots=True)
class AtMost:
    """`field` is at most `most` when `other` is `when` (a streamed request's `n`)."""

    field: str
    most: int
    other: str
    when: Any
    message: str

    def check(self, values: Mapping[str, Any]) -> None:
        value = values.get(self.field)
        if values.get(self.other) == self.when and isinstance(value, int) and value > self.most:
            raise InvalidRequest(self.message.format(value=value), code="invalid_value", param=self.field)


@dataclass(frozen=True, slots=True)
class Excludes:
    """`field` and `other` are not both given (each picks the same thing: chat's `image_config` and `size`)."""

    field: str
    other: str
    message: str

    def check(self, values: Mapping[str, Any]) -> None:
        if values.get(self.field) is not None and values.get(self.other) is not None:
            raise InvalidRequest(self.message, code="invalid_value", param=self.field)


@dataclass(frozen=True, slots=True)
class GivenOne:
    """At least one of `fields` is given, as it declares (the Responses body's `tools` holding a tool,
    or its `tool_choice` naming one); else `message`, 400 `missing_required_parameter` naming the first."""

    fields: tuple[Field, ...]
    message: str

    def check(self, values: Mapping[str, Any]) -> None:
        if not any(values.get(field.name) is not None and _takes(field, values[field.name]) for field in self.fields):
            name = self.fields[0].name
            raise InvalidRequest(self.message, code="missing_required_parameter", param=name)


Rule = Requires | AtMost | Excludes | GivenOne


def describe(field: Field) -> str:
    """The field's rule in words, for people (a model page's parameter table)."""
    parts = [field.doc] if field.doc else []
    if field.choices:
        parts.append("one of " + ", ".join(map(str, field.choices)))
    if field.minimum is not None and field.maximum is not None:
        parts.append(f"{field.minimum} to {field.maximum:,}")
    if field.max_chars is not None:
        parts.append(("non-blank, " if field.non_blank else "") + f"at most {field.max_chars:,} characters")
    return "; ".join(parts)


def read_fields(
    body: Mapping[str, Any],
    fields: Sequence[Field],
    rules: Sequence[Rule] = (),
    *,
    within: str = "",
    others: Field | None = None,
) -> dict[str, Any]:
    """The given fields of `body` (nulls dropped), each checked against its declaration; a field
    that is not declared is refused, one not `offered` too (its `doc` says why). `within`: where
    `body` sits in the request (`messages[0]`), what the errors name before the field's own name."""
    declared = {field.name: field for field in fields}
    values: dict[str, Any] = {}
    for name in body:
        if name not in declared:
            where = f"{within}.{name}" if within else name
            if others is None:
                raise InvalidRequest(f"Unknown parameter: '{where}'.", code="unknown_parameter", param=where)
            values[name] = check_value(others, body[name], where)
    for field in fields:
        value = body.get(field.name)
        where = f"{within}.{field.name}" if within else field.name
        if value is None:
            if field.required:
                raise missing(where)
            continue
        if not field.offered:
            raise InvalidRequest(f"'{where}' is not supported: {field.doc}.", code="unsupported_parameter", param=where)
        values[field.name] = check_value(field, value, where)
    for rule in rules:
        try:
            rule.check(values)
        except InvalidRequest as exc:
            if within and exc.param is not None:
                exc.param = f"{within}.{exc.param}"
            raise
    return values


def missing(name: str) -> InvalidRequest:
    return InvalidRequest(f"Missing required parameter: '{name}'.", code="missing_required_parameter", param=name)


def check_value(field: Field, value: Any, param: str | None = None) -> Any:
    """`value` if it is of the field's kind and within its bounds, else the contract's 400."""
    param = param or field.name
    if field.variants:
        return check_value(_variant(field, value, param), value, param)
    if not _is_kind(field.kind, value):
        raise InvalidRequest(
            f"'{param}' must be {_ARTICLE.get(field.kind, 'a ' + field.kind)}.", code="invalid_type", param=param
        )
    if isinstance(value, str):
        check_text(value, param, field.max_chars)
        if field.non_blank and not value.strip():
            raise InvalidRequest(f"'{param}' must not be empty.", code="invalid_value", param=param)
        if field.pattern is not None and re.fullmatch(field.pattern, value) is None:
            raise InvalidRequest(f"'{param}' is not of the form {field.pattern}.", code="invalid_value", param=param)
    if field.choices and value not in field.choices:
        raise InvalidRequest(
            f"Invalid value for '{param}': '{value}'. Supported values are: {', '.join(map(str, field.choices))}.",
            code="invalid_value",
            param=param,
        )
    if field.kind == "integer":
        _check_bounds(field, value, param)
    if isinstance(value, list):
        return _check_items(field, value, param)
    if field.fields is not None:
        return read_fields(value, field.fields, field.rules, within=param, others=field.values)
    if field.values is not None:
        return _check_pairs(field, field.values, value, param)
    return value


def _check_items(field: Field, value: list[Any], param: str) -> list[Any]:
    low, high = field.min_items or 0, field.max_items
    if len(value) < low or (high is not None and len(value) > high):
        most = f"at most {high}" if low == 0 else f"{low} to {high}" if high is not None else f"at least {low}"
        raise InvalidRequest(f"'{param}' must hold {most} items; it holds {len(value)}.", param=param)
    items = value
    if field.items is not None:
        nested = field.items.kind in ("object", "array") or bool(field.items.variants)  # a scalar's names the list
        items = [check_value(field.items, item, f"{param}[{n}]" if nested else param) for n, item in enumerate(value)]
    for held in field.contains:
        if isinstance(held, Field) and not any(_takes(held, item) for item in value):
            raise InvalidRequest(f"'{param}' must include {held.doc}.", param=param)
        if not isinstance(held, Field) and held not in value:
            raise InvalidRequest(f"'{param}' must include {held!r}.", param=param)
    return items


def _takes(field: Field, value: Any) -> bool:
    try:
        check_value(field, value)
    except InvalidRequest:
        return False
    return True


def _check_pairs(field: Field, values: Field, pairs: dict[str, Any], param: str) -> dict[str, Any]:
    if field.max_items is not None and len(pairs) > field.max_items:
        raise InvalidRequest(f"'{param}' may hold at most {field.max_items} pairs.", param=param)
    for key, item in pairs.items():
        where = f"{param}.{key[:64]}"
        if field.max_chars is not None and len(key) > field.max_chars:
            raise InvalidRequest(f"Each '{param}' key must be at most {field.max_chars} characters.", param=where)
        check_value(values, item, where)
    return pairs


def _variant(field: Field, value: Any, param: str) -> Field:
    """The variant `value` is: the one of its kind; among objects, the one its `type` names."""
    kinds = [variant for variant in field.variants if _is_kind(variant.kind, value)]
    if not kinds:
        either = " or ".join(_ARTICLE.get(v.kind, "a " + v.kind) for v in field.variants)
        raise InvalidRequest(f"'{param}' must be {either}.", code="invalid_type", param=param)
    if not isinstance(value, dict) or len(kinds) == 1:
        return kinds[0]
    kind = value.get("type")
    named = [variant for variant in kinds if _takes_type(variant, kind)]
    if not named:
        where = f"{param}.type"
        choices = ", ".join(str(c) for variant in kinds for c in _type_field(variant).choices)
        raise InvalidRequest(
            f"Invalid value for '{where}': '{str(kind)[:40]}'. Supported values are: {choices}.",
            code="invalid_value",
            param=where,
        )
    for variant in named[1:] and named:  # of one type, told apart by their values: the first that takes it
        try:
            check_value(variant, value, param)
        except InvalidRequest:
            continue
        return variant
    return named[0]


def _type_field(variant: Field) -> Field:
    return next((field for field in variant.fields or () if field.name == "type"), Field("type", "any"))


def _takes_type(variant: Field, kind: Any) -> bool:
    """Whether an object variant takes `type` `kind` (left out: where its `type` may be left out)."""
    field = _type_field(variant)
    if kind is None:
        return not field.required
    return not field.choices or kind in field.choices


def _is_kind(kind: Kind, value: Any) -> bool:
    if kind == "any":
        return True
    if isinstance(value, bool):
        return kind == "boolean"
    if kind == "integer":
        return isinstance(value, int)
    if kind == "amount":
        return isinstance(value, (str, int, float))
    expected: dict[str, type | tuple[type, ...]] = {
        "file": bytes,
        "string": str,
        "number": (int, float),
        "boolean": bool,
        "array": list,
        "object": dict,
    }
    return isinstance(value, expected[kind])


def _check_bounds(field: Field, value: int, param: str) -> None:
    low, high = field.minimum, field.maximum
    if (low is None or value >= low) and (high is None or value <= high):
        return
    if low is not None and high is not None:
        rule = f"between {low} and {high}"
    else:
        rule = f"at least {low}" if low is not None else f"at most {high:,}"
    raise InvalidRequest(f"'{param}' must be {rule}; got {value}.", code="invalid_value", param=param)


__all__ = [
    "AtMost",
    "Excludes",
    "Field",
    "GivenOne",
    "Kind",
    "Requires",
    "Rule",
    "check_value",
    "describe",
    "missing",
    "read_fields",
]
