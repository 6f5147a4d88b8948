"""Declarations rendered as JSON Schema (OpenAPI 3.1): request fields and their rules, answer shapes.

Nothing here knows a field by name. A request `Field` becomes a schema that says exactly what its
check accepts: the kind, `null` (which counts as not given), the bounds, the choices, and for text
what `check_text` refuses (NUL; unpaired surrogates cannot be sent as UTF-8 at all). A `Requires` or
`AtMost` rule becomes an `anyOf` of "it does not apply" and "it holds" (no `if` or `not`: generators
work around those, and cannot around a form's file parts). A body whose fields depend on the model becomes one variant per
model (`anyOf`), each the fields as that model takes them. An answer is a TypedDict of
`domain/shapes.py`, rendered from its type hints.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from ..domain.fields import AtMost, Excludes, Field, Rule
from ..domain.money import MAX_AMOUNT_CHARS, amount_pattern

Schema = dict[str, Any]

_BLANK = "".join(f"\\u{code:04x}" for code in range(0x10000) if chr(code).isspace())
"""The characters Python's `str.strip()` removes (the "non-blank" checks), spelled for any regex engine."""
_STORABLE = r"^[^\x00]*$"
_NON_BLANK = rf"^[^\x00]*[^\x00{_BLANK}][^\x00]*$"


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def field_schema(field: Field, *, nullable: bool = True) -> Schema | bool:
    """What a request may send for `field`; `nullable`: `null` is taken as "not given" (JSON bodies).
    A field not offered takes only null, or (where null cannot be sent: a form) nothing: `false`."""
    if not field.offered:
        return {"type": "null"} if nullable else False
    if field.kind == "any":
        return {"description": field.doc} if field.doc else {}
    schema = _value_schema(field)
    if field.doc:
        schema["description"] = field.doc
    if field.default is not None:
        schema["default"] = field.default
    return _or_null(schema) if nullable and not field.required else schema


def _value_schema(field: Field) -> Schema:
    if field.kind == "amount":
        return amount_schema(field)
    if field.kind == "file":
        return {"type": "string", "format": "binary", "contentMediaType": field.choices[0]}
    if field.variants:
        return {"anyOf": [field_schema(variant, nullable=False) for variant in field.variants]}
    if field.fields is not None:
        own = object_schema(field.fields, field.rules, closed=field.values is None)
        if field.values is not None:
            own["additionalProperties"] = field_schema(field.values, nullable=False)
        return own
    schema: Schema = {"type": field.kind}
    if field.values is not None:
        schema["additionalProperties"] = field_schema(field.values, nullable=False)
        if field.max_items is not None:
            schema["maxProperties"] = field.max_items
        if field.max_chars is not None:
            schema["propertyNames"] = {"maxLength": field.max_chars}
        return schema
    if field.choices:
        return {**schema, "enum": list(field.choices)}
    if field.kind == "string":
        pattern = field.pattern or field.form
        schema["pattern"] = f"^(?:{pattern})$" if pattern else _NON_BLANK if field.non_blank else _STORABLE
        if field.max_chars is not None:
            schema["maxLength"] = field.max_chars
    if field.minimum is not None:
        schema["minimum"] = field.minimum
    if field.maximum is not None:
        schema["maximum"] = field.maximum
    if field.items is not None:
        schema["items"] = field_schema(field.items, nullable=False)
    if field.min_items:
        schema["minItems"] = field.min_items
    if field.max_items is not None:
        schema["maxItems"] = field.max_items
    if isinstance(field.contains, Field):
        schema["contains"] = field_schema(replace(field.contains, doc=""), nullable=False)
    elif field.contains is not None:
        schema["contains"] = {"const": field.contains}
    return schema


def amount_schema(field: Field) -> Schema:
    """US dollars: a plain decimal string, or a JSON number read as the decimal it spells."""
    assert field.maximum is not None
    dollars = field.maximum // 1_000_000
    number: Schema = {"type": "number", "multipleOf": 0.000001}
    above_zero = {**number, "exclusiveMinimum": 0, "maximum": dollars}
    ranges = {
        "any": [{**number, "minimum": -dollars, "maximum": dollars}],
        "non_negative": [{**number, "minimum": 0, "maximum": dollars}],
        "positive": [above_zero],
        "nonzero": [above_zero, {**number, "minimum": -dollars, "exclusiveMaximum": 0}],
    }[field.sign]
    text = {"type": "string", "pattern": f"^(?:{amount_pattern(field.sign, field.maximum)})$"}
    return {"anyOf": [{**text, "maxLength": MAX_AMOUNT_CHARS}, *ranges]}


def _or_null(schema: Schema) -> Schema:
    if "enum" in schema:
        return {**schema, "type": [schema["type"], "null"], "enum": [*schema["enum"], None]}
    if "type" in schema:
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}], **{k: v for k, v in schema.items() if k in ("description", "default")}}


def object_schema(
    fields: Iterable[Field], rules: Iterable[Rule] = (), *, nullable: bool = True, closed: bool = True
) -> Schema:
    """A body of `fields`: the required ones, each field's schema, every other field refused."""
    listed = list(fields)
    schema: Schema = {
        "type": "object",
        "properties": {field.name: field_schema(field, nullable=nullable) for field in listed},
    }
    required = [field.name for field in listed if field.required]
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    conditions = [rule_schema(rule, listed, nullable=nullable) for rule in rules]
    if conditions:
        schema["allOf"] = conditions
    return schema


def variants_schema(
    fields: Iterable[Field],
    variants: Iterable[tuple[Iterable[Field], Iterable[Rule]]],
    rules: Iterable[Rule] = (),
    *,
    nullable: bool = True,
) -> Schema:
    """`fields` as any variant takes them, and exactly one variant's narrower fields and rules (one
    per model: its sizes, its `max_n`, …)."""
    listed = list(fields)
    schema = object_schema(listed, rules, nullable=nullable)
    schema["anyOf"] = [_narrowing(listed, list(own), own_rules, nullable) for own, own_rules in variants]
    return schema


def _narrowing(common: list[Field], fields: list[Field], rules: Iterable[Rule], nullable: bool) -> Schema:
    """A variant: only the fields it narrows, without the words (the common schema has them)."""
    narrowed = [field for field in fields if field not in common]
    properties = {}
    for field in narrowed:
        schema = field_schema(replace(field, doc="", default=None), nullable=nullable)
        properties[field.name] = schema
    variant: Schema = {"properties": properties}
    required = [field.name for field in fields if field.required]
    if required:
        variant["required"] = required
    conditions = [rule_schema(rule, fields, nullable=nullable) for rule in rules]
    if conditions:
        variant["allOf"] = conditions
    return variant


def rule_schema(rule: Rule, fields: Iterable[Field], *, nullable: bool = True) -> Schema:
    """`anyOf`: the rule does not apply (its field is not given, or has another value), or it holds."""
    declared = {field.name: field for field in fields}
    if isinstance(rule, Excludes):
        absent: Schema | bool = {"type": "null"} if nullable else False
        either = [{"properties": {rule.field: absent}}, {"properties": {rule.other: absent}}]
        return {"anyOf": either, "description": rule.message}
    if isinstance(rule, AtMost):
        idle = _other_values(declared[rule.other], rule.when, nullable)
        holds: Schema = {"properties": {rule.field: {"maximum": rule.most}}}
        text = f"'{rule.field}' is at most {rule.most} when '{rule.other}' is {json.dumps(rule.when)}"
        return {"anyOf": [idle, holds], "description": text}
    allowed = list(rule.allowed)
    given_default = rule.default in rule.allowed
    holds = {"properties": {rule.other: {"enum": [*allowed, None] if given_default and nullable else allowed}}}
    if not given_default:
        holds["required"] = [rule.other]
    if rule.when is None:
        idle = {"properties": {rule.field: {"type": "null"} if nullable else False}}
    else:
        idle = _other_values(declared[rule.field], rule.when, nullable)
    return {"anyOf": [idle, holds], "description": rule.message.replace("{other}", "…")}


def _other_values(field: Field, value: Any, nullable: bool) -> Schema:
    """`field` is left out, or has any value but `value`."""
    if field.variants:  # `value` is one of a variant's choices; the other variants are other values
        kept = [replace(v, choices=tuple(c for c in v.choices if c != value)) for v in field.variants if v.choices]
        kept += [v for v in field.variants if not v.choices]
        others = [field_schema(v, nullable=False) for v in kept if v.choices or v.kind != "string"]
        return {"properties": {field.name: {"anyOf": [*others, {"type": "null"}] if nullable else others}}}
    choices = (True, False) if field.kind == "boolean" else field.choices
    others = [choice for choice in choices if choice != value]
    return {"properties": {field.name: {"enum": [*others, None] if nullable else others}}}


# -- answers: TypedDicts


def shape_schemas(shapes: Iterable[type]) -> dict[str, Schema]:
    """Each TypedDict (and every TypedDict it holds) as a named schema."""
    found: dict[str, Schema] = {}
    pending = list(shapes)
    while pending:
        shape = pending.pop()
        if shape.__name__ in found:
            continue
        found[shape.__name__] = _typed_dict(shape, pending.append)
    return dict(sorted(found.items()))


def _typed_dict(shape: type, seen: Callable[[type], None]) -> Schema:
    hints = typing.get_type_hints(shape, include_extras=True)
    # read from the hints: with postponed annotations, Python 3.11's `__required_keys__` misses `NotRequired`
    required = sorted(name for name, hint in hints.items() if typing.get_origin(hint) is not typing.NotRequired)
    schema: Schema = {
        "type": "object",
        "properties": {name: _hint(hint, seen) for name, hint in hints.items()},
        "required": required,
    }
    if shape.__doc__ and not shape.__doc__.startswith(f"{shape.__name__}("):
        schema["description"] = shape.__doc__.strip()
    return schema


def _hint(hint: Any, seen: Callable[[type], None]) -> Schema:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Annotated:
        return {**_hint(args[0], seen), "description": " ".join(a for a in args[1:] if isinstance(a, str))}
    if origin in (typing.NotRequired, typing.Required):
        return _hint(args[0], seen)
    if origin is typing.Literal:
        return {"const": args[0]} if len(args) == 1 else {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        inner = [_hint(arg, seen) for arg in args]
        return {"anyOf": inner}
    if origin is list:
        return {"type": "array", "items": _hint(args[0], seen)}
    if origin is dict:
        return {"type": "object", "additionalProperties": _hint(args[1], seen)}
    if hint is Any:
        return {}
    if isinstance(hint, type) and typing.is_typeddict(hint):
        seen(hint)
        return ref(hint.__name__)
    scalar = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}
    if hint in scalar:
        return {"type": scalar[hint]}
    raise TypeError(f"no schema for {hint!r}")  # pragma: no cover -- a new kind of hint in domain/shapes.py


__all__ = [
    "Schema",
    "amount_schema",
    "field_schema",
    "object_schema",
    "ref",
    "rule_schema",
    "shape_schemas",
    "variants_schema",
]
