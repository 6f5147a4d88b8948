"""Models, their capabilities, routes and default prices, as validated data.

The catalog is read from a data file (`catalog.toml` in the package, overridable by the operator's
TOML file). Validation and routing read `Capabilities`; nothing switches on a model name.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from .money import MAX_PRICE_MICROS
from .upstream_cost import CostSheet, parse_cost_sheet

STANDARD_QUALITY = "standard"
"""Price key of models that have no quality levels."""

OUTPUT_FORMATS = ("png", "webp", "jpeg")


T = TypeVar("T")


class ModelMemo(Generic[T]):
    """What a pure function made of a model, kept by the model's identity: a catalog's models never
    change (a reloaded catalog's are new objects, with entries of their own). For what validation
    derives from a model on every request, such as its fields narrowed to its capabilities. A
    `Model` cannot be a dict key itself: it holds mappings, which do not hash."""

    LIMIT = 1024

    def __init__(self) -> None:
        self._kept: dict[tuple[int, Hashable], tuple[Model, T]] = {}

    def get(self, model: Model, variant: Hashable, make: Callable[[], T]) -> T:
        """`make()` the first time for this model and `variant`, the kept value after."""
        key = (id(model), variant)
        kept = self._kept.get(key)
        if kept is not None and kept[0] is model:  # the model is held here, so its id is not reused
            return kept[1]
        value = make()
        if len(self._kept) >= self.LIMIT:
            self._kept.clear()
        self._kept[key] = (model, value)
        return value


class CatalogError(ValueError):
    """The catalog data file is inconsistent."""


@dataclass(frozen=True, slots=True)
class OpenAIExtras:
    """What a model offers of OpenAI's fields beyond the first release's (catalog keys of the same name).

    `backgrounds`: the `background` values it honours (`transparent` only where it draws alpha).
    `moderations`: the `moderation` levels its upstream takes (`auto` alone: nothing to forward).
    `auto_sizes`: the sizes the upstream may pick for `size: "auto"` (empty: `auto` is the model's
    default size, chosen by the gateway). `complexities`, `input_fidelities`: values forwarded as is
    (empty: refused). `max_input_images`: images an edit may send (img2img models), each at most
    `max_input_image_bytes`; `edit_mask`: the upstream takes an edit's `mask`. `stream_max_n`: the
    most images one streamed request may ask for (None: `max_n`).
    """

    backgrounds: tuple[str, ...] = ("auto", "opaque")
    moderations: tuple[str, ...] = ("auto",)
    auto_sizes: tuple[str, ...] = ()
    complexities: tuple[str, ...] = ()
    input_fidelities: tuple[str, ...] = ()
    max_input_images: int = 16
    max_input_image_bytes: int = 50 * 1024 * 1024
    edit_mask: bool = False
    stream_max_n: int | None = None

    def as_public(self) -> dict[str, Any]:
        return {
            "backgrounds": list(self.backgrounds),
            "moderations": list(self.moderations),
            "auto_sizes": list(self.auto_sizes),
            "complexities": list(self.complexities),
            "input_fidelities": list(self.input_fidelities),
            "max_input_images": self.max_input_images,
            "max_input_image_bytes": self.max_input_image_bytes,
            "edit_mask": self.edit_mask,
            "stream_max_n": self.stream_max_n,
        }


AUTO_SIZE = "auto"
"""OpenAI's `size: "auto"`: the upstream picks one of the model's `auto_sizes`."""

BACKGROUNDS = ("transparent", "opaque", "auto")
MODERATIONS = ("low", "auto")
COMPLEXITIES = ("low", "medium", "high")
INPUT_FIDELITIES = ("high", "low")


@dataclass(frozen=True, slots=True)
class Capabilities:
    sizes: tuple[str, ...]
    default_size: str
    max_n: int
    qualities: tuple[str, ...]
    default_quality: str | None
    styles: tuple[str, ...]
    default_style: str | None
    output_formats: tuple[str, ...]
    img2img: bool
    max_prompt_chars: int
    upscaled_from: Mapping[str, str] = field(default_factory=dict)
    """Sizes some route makes smaller and the gateway upscales: size -> the native size asked for."""
    extra: OpenAIExtras = field(default_factory=OpenAIExtras)
    """OpenAI's further request fields (background, moderation, size "auto", edits), as data."""

    def as_public(self) -> dict[str, Any]:
        return {
            "sizes": list(self.sizes),
            "max_n": self.max_n,
            "qualities": list(self.qualities),
            "styles": list(self.styles),
            "output_formats": list(self.output_formats),
            "img2img": self.img2img,
            "max_prompt_chars": self.max_prompt_chars,
            "upscaled_from": dict(self.upscaled_from),
            **self.extra.as_public(),
        }


@dataclass(frozen=True, slots=True)
class Route:
    """One way to reach a model: a wire format, the credentials it uses and the upstream model id.

    Routes are tried by ascending `priority` (default: their position in the list); routes of
    equal priority are ordered at random in proportion to `weight`. `native_formats` are the
    output formats the upstream can be asked for (others are re-encoded by the gateway), and
    `native_compression` says whether it honours `output_compression`. `base_url`, `api_key` and
    `api_version` override the route's credentials section; `options` are wire-specific.
    """

    name: str
    provider: str  # wire module registered in providers.registry
    credentials: str  # name of a credentials section in the settings
    upstream_model: str
    timeout_seconds: float | None = None
    priority: int = 0
    weight: int = 1
    native_formats: tuple[str, ...] = OUTPUT_FORMATS
    native_compression: bool = True
    upscaled_from: Mapping[str, str] = field(default_factory=dict)
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    api_version: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    upstream_cost: CostSheet | None = None
    """What the operator pays the upstream (`domain/upstream_cost.py`); None: not known."""

    def native_size(self, size: str) -> str:
        """The size this route asks its upstream for when a client asks for `size`."""
        return self.upscaled_from.get(size, size)


@dataclass(frozen=True, slots=True)
class Model:
    id: str
    vendor: str
    display_name: str
    owned_by: str
    created: int
    aliases: tuple[str, ...]
    capabilities: Capabilities
    routes: tuple[Route, ...]
    prices: Mapping[str, Mapping[str, int]]  # quality key -> size -> micros per image
    auto_quality_price: str | None  # the quality whose price `auto` is held at
    style_prompts: Mapping[str, str]  # gateway-side style: text added to the prompt
    upscaled_from: Mapping[str, str]  # size -> native size the upstream is asked for
    latency_seconds: tuple[int, int]
    when_to_use: tuple[str, ...]
    free: bool = False
    description: str = ""
    capability_line: str = ""
    see_also: tuple[str, ...] = ()  # ids of sibling models, for the model page's "When to use"
    pick_sibling: Mapping[str, str] = field(default_factory=dict)
    """Sibling id -> when to pick it instead of this model (the model page's comparison)."""
    example_prompt: str = ""
    """A prompt that shows what this model is good at: its request examples use it."""
    batch_price_percent: int = 100
    """A line of a batch (`POST /v1/batches`) pays this percent of the live price (rounded down)."""

    def price_key(self, quality: str | None) -> str:
        """The price-card row for a requested quality (`auto` is held at its own row)."""
        return quality if quality is not None else STANDARD_QUALITY

    def native_size(self, size: str) -> str:
        return self.upscaled_from.get(size, size)

    def priced_sizes(self, size: str) -> tuple[str, ...]:
        """The sizes a request for `size` may be delivered at: several for `auto`."""
        return self.capabilities.extra.auto_sizes if size == AUTO_SIZE else (size,)


@dataclass(frozen=True)
class Catalog:
    models: Mapping[str, Model]
    _by_name: Mapping[str, Model] = field(repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Catalog:
        """`[models.*]` tables, plus `[providers.*]` tables of defaults for the routes of each wire."""
        raw_models = data.get("models")
        if not isinstance(raw_models, Mapping) or not raw_models:
            raise CatalogError("catalog has no [models]")
        defaults = data.get("providers", {})
        if not isinstance(defaults, Mapping):
            raise CatalogError("[providers] must be a table of route defaults per provider")
        models = {model_id: _parse_model(model_id, raw, defaults) for model_id, raw in raw_models.items()}
        by_name: dict[str, Model] = {}
        for model in models.values():
            for name in (model.id, *model.aliases):
                if name in by_name:
                    raise CatalogError(f"model name {name!r} is used twice")
                by_name[name] = model
        for model in models.values():
            unknown = [name for name in (*model.see_also, *model.pick_sibling) if name not in models]
            if unknown:
                raise CatalogError(f"model {model.id!r}: see_also or pick_sibling names unknown models {unknown}")
        return cls(models=models, _by_name=by_name)

    def find(self, name: str) -> Model | None:
        """A model by id or alias."""
        return self._by_name.get(name)

    def __iter__(self) -> Iterator[Model]:
        return iter(self.models.values())


ROUTE_KEYS = frozenset(
    {
        "name",
        "provider",
        "credentials",
        "upstream_model",
        "timeout_seconds",
        "priority",
        "weight",
        "native_formats",
        "native_compression",
        "upscaled_from",
        "base_url",
        "api_key",
        "api_version",
        "options",
        "upstream_cost",
    }
)


def _parse_routes(
    model_id: str, raw_routes: Any, defaults: Mapping[str, Any], model_upscaled: Mapping[str, str]
) -> tuple[Route, ...]:
    routes = []
    for index, entry in enumerate(raw_routes or ()):
        if not isinstance(entry, Mapping):
            raise CatalogError(f"model {model_id!r}: each route must be a table")
        provider_defaults = defaults.get(entry.get("provider", ""), {})
        r = {**provider_defaults, **entry}
        unknown = set(r) - ROUTE_KEYS
        if unknown:
            raise CatalogError(f"model {model_id!r}: route keys {sorted(unknown)} are unknown")
        upscaled = {**model_upscaled, **r.get("upscaled_from", {})}
        routes.append(
            Route(
                name=r["name"],
                provider=r["provider"],
                credentials=r.get("credentials", r["provider"]),
                upstream_model=r["upstream_model"],
                timeout_seconds=float(r["timeout_seconds"]) if r.get("timeout_seconds") is not None else None,
                priority=int(r.get("priority", index)),
                weight=int(r.get("weight", 1)),
                native_formats=tuple(r.get("native_formats", OUTPUT_FORMATS)),
                native_compression=bool(r.get("native_compression", True)),
                upscaled_from=MappingProxyType({s: n for s, n in upscaled.items() if s != n}),
                base_url=r.get("base_url"),
                api_key=r.get("api_key"),
                api_version=r.get("api_version"),
                options=MappingProxyType(dict(r.get("options", {}))),
                upstream_cost=parse_cost_sheet(f"model {model_id!r} route {r['name']!r}", r.get("upstream_cost")),
            )
        )
    return tuple(routes)


def _public_upscaled(
    sizes: tuple[str, ...], routes: tuple[Route, ...], model_upscaled: Mapping[str, str]
) -> dict[str, str]:
    """Every size some route upscales, with the native size of the first such route in priority order."""
    marked: dict[str, str] = {} if routes else dict(model_upscaled)
    for route in sorted(routes, key=lambda r: r.priority):
        for size, native in route.upscaled_from.items():
            marked.setdefault(size, native)
    return {size: marked[size] for size in sizes if size in marked}


def _parse_model(model_id: str, raw: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> Model:
    try:
        qualities = tuple(raw.get("qualities", ()))
        styles = tuple(raw.get("styles", ()))
        sizes = tuple(raw["sizes"])
        model_upscaled = dict(raw.get("upscaled_from", {}))
        routes = _parse_routes(model_id, raw.get("routes", ()), defaults or {}, model_upscaled)
        caps = Capabilities(
            sizes=sizes,
            default_size=raw.get("default_size", "1024x1024"),
            max_n=int(raw["max_n"]),
            qualities=qualities,
            default_quality=raw.get("default_quality") if qualities else None,
            styles=styles,
            default_style=raw.get("default_style") if styles else None,
            output_formats=tuple(raw.get("output_formats", OUTPUT_FORMATS)),
            img2img=bool(raw.get("img2img", False)),
            max_prompt_chars=int(raw["max_prompt_chars"]),
            upscaled_from=_public_upscaled(sizes, routes, model_upscaled),
            extra=_parse_extras(raw),
        )
        prices = {q: {s: int(v) for s, v in row.items()} for q, row in raw.get("prices", {}).items()}
        latency = raw.get("latency_seconds", [0, 0])
        model = Model(
            id=model_id,
            vendor=raw["vendor"],
            display_name=raw["display_name"],
            owned_by=raw.get("owned_by", raw["vendor"].lower()),
            created=int(raw.get("created", 0)),
            aliases=tuple(raw.get("aliases", ())),
            capabilities=caps,
            routes=routes,
            prices=prices,
            auto_quality_price=raw.get("auto_quality_price"),
            style_prompts=dict(raw.get("style_prompts", {})),
            upscaled_from=model_upscaled,
            latency_seconds=(int(latency[0]), int(latency[1])),
            when_to_use=tuple(raw.get("when_to_use", ())),
            free=bool(raw.get("free", False)),
            description=str(raw.get("description", "")),
            capability_line=str(raw.get("capability_line", "")),
            see_also=tuple(raw.get("see_also", ())),
            pick_sibling={str(k): str(v) for k, v in raw.get("pick_sibling", {}).items()},
            example_prompt=str(raw.get("example_prompt", "")),
            batch_price_percent=int(raw.get("batch_price_percent", 100)),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise CatalogError(f"model {model_id!r}: {exc!r}") from exc
    _check_model(model)
    return model


def _parse_extras(raw: Mapping[str, Any]) -> OpenAIExtras:
    defaults = OpenAIExtras()
    return OpenAIExtras(
        backgrounds=tuple(raw.get("backgrounds", defaults.backgrounds)),
        moderations=tuple(raw.get("moderations", defaults.moderations)),
        auto_sizes=tuple(raw.get("auto_sizes", defaults.auto_sizes)),
        complexities=tuple(raw.get("complexities", defaults.complexities)),
        input_fidelities=tuple(raw.get("input_fidelities", defaults.input_fidelities)),
        max_input_images=int(raw.get("max_input_images", defaults.max_input_images)),
        max_input_image_bytes=int(raw.get("max_input_image_bytes", defaults.max_input_image_bytes)),
        edit_mask=bool(raw.get("edit_mask", defaults.edit_mask)),
        stream_max_n=int(raw["stream_max_n"]) if "stream_max_n" in raw else None,
    )


def _check_extras(model: Model) -> None:
    extra = model.capabilities.extra
    for name, values, allowed in (
        ("backgrounds", extra.backgrounds, BACKGROUNDS),
        ("moderations", extra.moderations, MODERATIONS),
        ("complexities", extra.complexities, COMPLEXITIES),
        ("input_fidelities", extra.input_fidelities, INPUT_FIDELITIES),
    ):
        if not set(values) <= set(allowed):
            raise CatalogError(f"model {model.id!r}: {name} must be some of {', '.join(allowed)}")
    if "auto" not in extra.backgrounds or "auto" not in extra.moderations:
        raise CatalogError(f"model {model.id!r}: backgrounds and moderations must include 'auto' (OpenAI's default)")
    if not set(extra.auto_sizes) <= set(model.capabilities.sizes):
        raise CatalogError(f"model {model.id!r}: auto_sizes must be some of its sizes")
    if extra.stream_max_n is not None and not 1 <= extra.stream_max_n <= model.capabilities.max_n:
        raise CatalogError(f"model {model.id!r}: stream_max_n must be 1 to max_n")
    if not 1 <= extra.max_input_images <= 16:
        raise CatalogError(f"model {model.id!r}: max_input_images must be 1 to 16")


def _check_model(model: Model) -> None:
    _check_extras(model)
    caps = model.capabilities
    if caps.default_size not in caps.sizes:
        raise CatalogError(f"model {model.id!r}: default size {caps.default_size} is not one of its sizes")
    if caps.qualities and caps.default_quality not in caps.qualities:
        raise CatalogError(f"model {model.id!r}: default quality is not one of its qualities")
    if caps.styles and caps.default_style not in caps.styles:
        raise CatalogError(f"model {model.id!r}: default style is not one of its styles")
    if not set(caps.output_formats) <= set(OUTPUT_FORMATS):
        raise CatalogError(f"model {model.id!r}: unknown output format")
    for size in caps.sizes:
        _parse_size(model.id, size)
    for upscaled in (model.upscaled_from, *(route.upscaled_from for route in model.routes)):
        _check_upscaling(model, upscaled)
    names = [route.name for route in model.routes]
    if len(set(names)) != len(names):
        raise CatalogError(f"model {model.id!r}: route names must be unique")
    for route in model.routes:
        _check_route(model.id, route)
    if not 1 <= model.batch_price_percent <= 100:
        raise CatalogError(f"model {model.id!r}: batch_price_percent must be 1..100")
    if model.free:
        return
    price_keys = [q for q in caps.qualities if q != "auto"] or [STANDARD_QUALITY]
    if "auto" in caps.qualities and model.auto_quality_price not in price_keys:
        raise CatalogError(f"model {model.id!r}: auto_quality_price must name a priced quality")
    for quality in price_keys:
        missing = [s for s in caps.sizes if s not in model.prices.get(quality, {})]
        if missing:
            raise CatalogError(f"model {model.id!r}: no price for {quality} at {missing}")
        out_of_range = [s for s, v in model.prices[quality].items() if not 0 <= v <= MAX_PRICE_MICROS]
        if out_of_range:
            raise CatalogError(
                f"model {model.id!r}: {quality} price at {out_of_range} outside 0..{MAX_PRICE_MICROS} micros"
            )


def _check_upscaling(model: Model, upscaled: Mapping[str, str]) -> None:
    for size, native in upscaled.items():
        (w, h), (nw, nh) = _parse_size(model.id, size), _parse_size(model.id, native)
        if size not in model.capabilities.sizes or nw > w or nh > h or w * nh != h * nw:
            raise CatalogError(f"model {model.id!r}: {size} cannot be upscaled from {native}")


def _check_route(model_id: str, route: Route) -> None:
    where = f"model {model_id!r} route {route.name!r}"
    if not route.native_formats or not set(route.native_formats) <= set(OUTPUT_FORMATS):
        raise CatalogError(f"{where}: native_formats must be some of {', '.join(OUTPUT_FORMATS)}")
    if route.weight < 1:
        raise CatalogError(f"{where}: weight must be a positive integer")
    if route.timeout_seconds is not None and route.timeout_seconds <= 0:
        raise CatalogError(f"{where}: timeout_seconds must be positive")


def _parse_size(model_id: str, size: str) -> tuple[int, int]:
    width, sep, height = size.partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise CatalogError(f"model {model_id!r}: bad size {size!r}")
    return int(width), int(height)


def parse_size(size: str) -> tuple[int, int]:
    """`"1024x1536"` -> `(1024, 1536)`; sizes in the catalog are checked at load."""
    width, _, height = size.partition("x")
    return int(width), int(height)


__all__ = [
    "AUTO_SIZE",
    "BACKGROUNDS",
    "COMPLEXITIES",
    "INPUT_FIDELITIES",
    "MODERATIONS",
    "OUTPUT_FORMATS",
    "ROUTE_KEYS",
    "STANDARD_QUALITY",
    "Capabilities",
    "Catalog",
    "CatalogError",
    "Model",
    "ModelMemo",
    "OpenAIExtras",
    "Route",
    "parse_size",
]
