"""Models, their capabilities, routes and default prices, as validated data.

The catalog is read from a data file (`catalog.toml` in the package, overridable by the operator's
TOML file). Validation and routing read `Capabilities`; nothing switches on a model name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

STANDARD_QUALITY = "standard"
"""Price key of models that have no quality levels."""

OUTPUT_FORMATS = ("png", "webp", "jpeg")


class CatalogError(ValueError):
    """The catalog data file is inconsistent."""


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

    def as_public(self) -> dict[str, Any]:
        return {
            "sizes": list(self.sizes),
            "max_n": self.max_n,
            "qualities": list(self.qualities),
            "styles": list(self.styles),
            "output_formats": list(self.output_formats),
            "img2img": self.img2img,
            "max_prompt_chars": self.max_prompt_chars,
        }


@dataclass(frozen=True, slots=True)
class Route:
    """One way to reach a model: a wire format, the credentials it uses and the upstream model id."""

    name: str
    provider: str  # wire module registered in providers.registry
    credentials: str  # name of a credentials section in the settings
    upstream_model: str
    timeout_seconds: float | None = None


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

    def price_key(self, quality: str | None) -> str:
        """The price-card row for a requested quality (`auto` is held at its own row)."""
        return quality if quality is not None else STANDARD_QUALITY

    def native_size(self, size: str) -> str:
        return self.upscaled_from.get(size, size)


@dataclass(frozen=True)
class Catalog:
    models: Mapping[str, Model]
    _by_name: Mapping[str, Model] = field(repr=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Catalog:
        raw_models = data.get("models")
        if not isinstance(raw_models, Mapping) or not raw_models:
            raise CatalogError("catalog has no [models]")
        models = {model_id: _parse_model(model_id, raw) for model_id, raw in raw_models.items()}
        by_name: dict[str, Model] = {}
        for model in models.values():
            for name in (model.id, *model.aliases):
                if name in by_name:
                    raise CatalogError(f"model name {name!r} is used twice")
                by_name[name] = model
        return cls(models=models, _by_name=by_name)

    def find(self, name: str) -> Model | None:
        """A model by id or alias."""
        return self._by_name.get(name)

    def __iter__(self) -> Iterator[Model]:
        return iter(self.models.values())


def _parse_model(model_id: str, raw: Mapping[str, Any]) -> Model:
    try:
        qualities = tuple(raw.get("qualities", ()))
        styles = tuple(raw.get("styles", ()))
        sizes = tuple(raw["sizes"])
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
        )
        routes = tuple(
            Route(
                name=r["name"],
                provider=r["provider"],
                credentials=r.get("credentials", r["provider"]),
                upstream_model=r["upstream_model"],
                timeout_seconds=r.get("timeout_seconds"),
            )
            for r in raw.get("routes", ())
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
            upscaled_from=dict(raw.get("upscaled_from", {})),
            latency_seconds=(int(latency[0]), int(latency[1])),
            when_to_use=tuple(raw.get("when_to_use", ())),
            free=bool(raw.get("free", False)),
        )
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise CatalogError(f"model {model_id!r}: {exc!r}") from exc
    _check_model(model)
    return model


def _check_model(model: Model) -> None:
    caps = model.capabilities
    if caps.default_size not in caps.sizes:
        raise CatalogError(f"model {model.id!r}: default size {caps.default_size} is not one of its sizes")
    if caps.qualities and caps.default_quality not in caps.qualities:
        raise CatalogError(f"model {model.id!r}: default quality is not one of its qualities")
    if caps.styles and caps.default_style not in caps.styles:
        raise CatalogError(f"model {model.id!r}: default style is not one of its styles")
    if not set(caps.output_formats) <= set(OUTPUT_FORMATS):
        raise CatalogError(f"model {model.id!r}: unknown output format")
    for size in (*caps.sizes, *model.upscaled_from.values()):
        _parse_size(model.id, size)
    for size, native in model.upscaled_from.items():
        (w, h), (nw, nh) = _parse_size(model.id, size), _parse_size(model.id, native)
        if size not in caps.sizes or nw > w or nh > h or w * nh != h * nw:
            raise CatalogError(f"model {model.id!r}: {size} cannot be upscaled from {native}")
    if model.free:
        return
    price_keys = [q for q in caps.qualities if q != "auto"] or [STANDARD_QUALITY]
    if "auto" in caps.qualities:
        if model.auto_quality_price not in price_keys:
            raise CatalogError(f"model {model.id!r}: auto_quality_price must name a priced quality")
    for quality in price_keys:
        missing = [s for s in caps.sizes if s not in model.prices.get(quality, {})]
        if missing:
            raise CatalogError(f"model {model.id!r}: no price for {quality} at {missing}")


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
    "OUTPUT_FORMATS",
    "STANDARD_QUALITY",
    "Capabilities",
    "Catalog",
    "CatalogError",
    "Model",
    "Route",
    "parse_size",
]
