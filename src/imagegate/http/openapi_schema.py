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

from ..domain.fields import AtMost, Excludes, Field, GivenOne, Requires, Rule
from ..domain.money import MAX_AMOUNT_CHARS, amount_pattern

Schema = dict[str, Any]

_BLANK = "".join(f"\\u{code:04x}" for code in range(0x10000) if chr(code).isspace())
"""The characters Python's `str.strip()` removes (the "non-blank" checks), spelled for any regex engine."""
_STORABLE = r"^[^\x00]*$"
_NON_BLANK = rf"^[^\x00]*[^\x00{_BLANK}][^\x00]*$"


STORABLE_JSON = "StorableJson"


def storable_json() -> Schema:
    """Any JSON value whose strings and names hold no NUL: what a body may hold where a field is
    accepted unread (`check_json` refuses a NUL anywhere in a body)."""
    text = {"type": "string", "pattern": _STORABLE}
    return {
        "description": "any JSON value; no string or name in it holds NUL",
        "anyOf": [
            {"type": ["null", "boolean", "number"]},
            text,
            {"type": "array", "items": ref(STORABLE_JSON)},
            {"type": "object", "propertyNames": text, "additionalProperties": ref(STORABLE_JSON)},
        ],
    }


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def field_schema(field: Field, *, nullable: bool = True) -> Schema | bool:
    """What a request may send for `field`; `nullable`: `null` is taken as "not given" (JSON bodies).
    A field not offered takes only null, or (where null cannot be sent: a form) nothing: `false`."""
    if not field.offered:
        return {"type": "null"} if nullable else False
    if field.kind == "any":
        return {**ref(STORABLE_JSON), "description": field.doc} if field.doc else ref(STORABLE_JSON)
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
        listed = _listed(field)
        if listed is not None:  # a few values, each spelled out: one enum, no branches to take apart
            return {"enum": list(listed)}
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
    held = [
        {"contains": field_schema(replace(c, doc=""), nullable=False) if isinstance(c, Field) else {"const": c}}
        for c in field.contains
    ]
    if len(held) == 1:
        schema.update(held[0])
    elif held:
        schema["allOf"] = held
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
    if "enum" in schema and "type" not in schema:
        return {**schema, "enum": [*schema["enum"], None]}
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
    if closed:
        schema["additionalProperties"] = False
    return _constrained(schema, listed, rules, nullable)


def variants_schema(
    fields: Iterable[Field],
    variants: Iterable[tuple[Iterable[Field], Iterable[Rule]]],
    rules: Iterable[Rule] = (),
    *,
    nullable: bool = True,
    exclusive: bool = True,
) -> Schema:
    """`fields` as any variant takes them, and exactly one variant's narrower fields and rules (one
    per model: its sizes, its `max_n`, …). Each rule goes into the variants whose values can break
    it, not above them all. `exclusive`: no body is of two variants (each names its own model), so
    they are a `oneOf`, which a generator takes as it is, where it would intersect an `anyOf`'s
    branches with everything beside them (and give up on the chat body's)."""
    listed = list(fields)
    schema = object_schema(listed, nullable=nullable)
    shared = list(rules)
    narrowed = []
    for own, own_rules in variants:
        taken = {**{field.name: field for field in listed}, **{field.name: field for field in own}}
        breakable = [rule for rule in shared if _can_break(rule, taken)]
        narrowed.append(_narrowing(listed, list(own), [*breakable, *own_rules], nullable, taken))
    schema["oneOf" if exclusive else "anyOf"] = _merged(narrowed)
    return schema


def _can_break(rule: Rule, fields: dict[str, Field]) -> bool:
    """Whether values these fields take can break `rule` (else it says nothing here)."""

    def values(field: Field) -> tuple[Any, ...] | None:
        if not field.offered:
            return ()
        return (True, False) if field.kind == "boolean" else field.choices or None

    if isinstance(rule, Requires):
        given, other = values(fields[rule.field]), values(fields[rule.other])
        if given == () or (rule.when is not None and given is not None and rule.when not in given):
            return False
        return other is None or not set(other) <= set(rule.allowed) or rule.default not in rule.allowed
    if isinstance(rule, AtMost):
        most = fields[rule.field].maximum
        return values(fields[rule.field]) != () and (most is None or most > rule.most)
    if isinstance(rule, Excludes):
        return fields[rule.field].offered and fields[rule.other].offered
    return True


def _merged(variants: list[Schema]) -> list[Schema]:
    """Variants alike but for the model they name, as one naming each of those models: fewer
    branches for a generator to take apart (the models of one family differ in their names alone)."""
    groups: dict[str, Schema] = {}
    for variant in variants:
        names = variant.get("properties", {}).get("model", {}).get("enum")
        if names is None:
            groups[json.dumps(variant, sort_keys=True)] = variant
            continue
        rest = {**variant, "properties": {k: v for k, v in variant["properties"].items() if k != "model"}}
        key = json.dumps(rest, sort_keys=True)
        if key in groups:
            model = groups[key]["properties"]["model"]
            model["enum"] = [*model["enum"], *names]
        else:
            groups[key] = {
                **variant,
                "properties": {**variant["properties"], "model": {**variant["properties"]["model"]}},
            }
    return list(groups.values())


def _narrowing(
    common: list[Field], fields: list[Field], rules: Iterable[Rule], nullable: bool, taken: dict[str, Field]
) -> Schema:
    """A variant: only the fields it narrows, without the words (the common schema has them)."""
    narrowed = [field for field in fields if field not in common]
    properties = {}
    for field in narrowed:
        schema = field_schema(replace(field, doc="", default=None), nullable=nullable)
        properties[field.name] = schema
    return _constrained({"properties": properties}, fields, rules, nullable, list(taken.values()))


def _constrained(
    schema: Schema, fields: list[Field], rules: Iterable[Rule], nullable: bool, declared: list[Field] | None = None
) -> Schema:
    """`schema` with the fields it requires and the rules between them (`allOf`); `declared`: the
    fields the rules read, where `fields` are only those a variant narrows."""
    required = [field.name for field in fields if field.required]
    if required:
        schema["required"] = required
    conditions = [rule_schema(rule, fields if declared is None else declared, nullable=nullable) for rule in rules]
    if conditions:
        schema["allOf"] = conditions
    return schema


def rule_schema(rule: Rule, fields: Iterable[Field], *, nullable: bool = True) -> Schema:
    """`anyOf`: the rule does not apply (its field is not given, or has another value), or it holds."""
    declared = {field.name: field for field in fields}
    if isinstance(rule, GivenOne):
        given = [
            {"required": [field.name], "properties": {field.name: field_schema(field, nullable=False)}}
            for field in rule.fields
        ]
        return {"anyOf": given, "description": rule.message}
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
    choices = (True, False) if field.kind == "boolean" else field.choices
    if field.variants:  # each variant one value or a few (chat's "url", "b64_json" or {"type": "text"})
        choices = tuple(choice for variant in field.variants for choice in _enumerated(variant))
    others = [choice for choice in choices if choice != value]
    return {"properties": {field.name: {"enum": [*others, None] if nullable else others}}}


def _enumerated(field: Field) -> tuple[Any, ...]:
    listed = _listed(field) if field.variants else _values(field)
    if listed is None:  # pragma: no cover -- a rule on a field of free values
        raise TypeError(f"'{field.name}' takes too many values to list")
    return listed


def _listed(field: Field) -> tuple[Any, ...] | None:
    """Every value of a field of variants, where each variant takes a few, spelled out."""
    found: list[Any] = []
    for variant in field.variants:
        values = _values(variant)
        if values is None:
            return None
        found += values
    return tuple(found)


def _values(field: Field) -> tuple[Any, ...] | None:
    """Every value `field` takes, where they are few: its choices, or the one object its fields allow."""
    if field.choices:
        return field.choices
    own = field.fields
    if own is not None and field.values is None and all(f.required and len(f.choices) == 1 for f in own):
        return ({f.name: f.choices[0] for f in own},)
    return None


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
    "STORABLE_JSON",
    "Schema",
    "amount_schema",
    "field_schema",
    "object_schema",
    "ref",
    "rule_schema",
    "shape_schemas",
    "storable_json",
    "variants_schema",
]
