"""The scenarios of issue 6 and the bench models they use, as data.

The gateway selects the fake upstream's behaviour by model: each bench model's route sends an
upstream model name such as `fake/delay=2000/img=flat`, which the fake reads (all OpenAI routes
share one base URL). The direct target and LiteLLM reach the same behaviour through the URL path
(`/delay=2000/img=flat/v1`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

PROMPT = "a watercolor fox in the snow"


@dataclass(frozen=True)
class Behaviour:
    """What the fake upstream does: its answer delay and the kind of image."""

    name: str  # the bench model's name in the gateway
    delay_ms: int
    img: str  # "flat" (a few KB) or "noise" (as large as a real image)
    sizes: tuple[str, ...]

    @property
    def segments(self) -> str:
        return f"delay={self.delay_ms}/img={self.img}"


TINY = Behaviour("bench-tiny", 0, "flat", ("256x256",))
SLOW2 = Behaviour("bench-slow2", 2000, "flat", ("256x256",))
SLOW15 = Behaviour("bench-slow15", 15000, "flat", ("256x256",))
LARGE = Behaviour("bench-large", 0, "noise", ("1024x1024", "4096x4096"))
BEHAVIOURS = (TINY, SLOW2, SLOW15, LARGE)


@dataclass(frozen=True)
class Scenario:
    name: str
    question: str
    behaviour: Behaviour
    size: str
    concurrency: int
    seconds: int
    quick_seconds: int
    response_format: str = "url"  # the gateway's default: stored and signed
    output_format: str = "png"
    litellm: bool = False  # LiteLLM runs it too (it cannot store, sign or transcode)

    def gateway_body(self) -> str:
        return json.dumps(
            {
                "model": self.behaviour.name,
                "prompt": PROMPT,
                "n": 1,
                "size": self.size,
                "response_format": self.response_format,
                "output_format": self.output_format,
            }
        )

    def upstream_body(self) -> str:
        """What the direct target is sent: the request the gateway sends upstream."""
        return json.dumps({"model": "gpt-image-1", "prompt": PROMPT, "n": 1, "size": self.size, "output_format": "png"})

    def litellm_body(self) -> str:
        return json.dumps({"model": self.behaviour.name, "prompt": PROMPT, "n": 1, "size": self.size})

    @property
    def direct_key(self) -> str:
        """Scenarios that send the upstream the same request share one direct run per repeat."""
        return f"{self.behaviour.name}/{self.size}/c{self.concurrency}"


SCENARIOS = (
    Scenario("c1", "latency added over direct, one request at a time", TINY, "256x256", 1, 15, 5, litellm=True),
    Scenario("c64", "maximum throughput and CPU per request", TINY, "256x256", 64, 15, 5, litellm=True),
    Scenario("inflight1000", "1,000 in flight on a 2 s upstream", SLOW2, "256x256", 1000, 30, 10, litellm=True),
    Scenario("inflight10000", "10,000 in flight on a 15 s upstream", SLOW15, "256x256", 10000, 60, 20),
    Scenario(
        "large1024-b64",
        "1024² PNG (2.39 MB base64) returned inline",
        LARGE,
        "1024x1024",
        16,
        15,
        5,
        response_format="b64_json",
        litellm=True,
    ),
    Scenario("large1024-url", "1024² PNG stored, URL returned", LARGE, "1024x1024", 16, 15, 5),
    Scenario(
        "large4096-b64",
        "4096² PNG (38 MB base64) returned inline",
        LARGE,
        "4096x4096",
        4,
        15,
        8,
        response_format="b64_json",
        litellm=True,
    ),
    Scenario("large4096-url", "4096² PNG stored, URL returned", LARGE, "4096x4096", 4, 15, 8),
    Scenario(
        "transcode1024", "upstream PNG, client asks WEBP, 1024²", LARGE, "1024x1024", 4, 15, 8, output_format="webp"
    ),
    Scenario(
        "transcode4096", "upstream PNG, client asks WEBP, 4096²", LARGE, "4096x4096", 4, 20, 10, output_format="webp"
    ),
)


def operator_toml() -> str:
    """The IMAGEGATE_CONFIG file: one model per behaviour, routed to the fake upstream."""
    blocks = []
    for b in BEHAVIOURS:
        sizes = ", ".join(f'"{s}"' for s in b.sizes)
        prices = "\n".join(f'"{s}" = 1000' for s in b.sizes)
        blocks.append(
            f"""[models.{b.name}]
vendor = "bench"
display_name = "{b.name} (fake upstream, {b.segments})"
sizes = [{sizes}]
default_size = "{b.sizes[0]}"
max_n = 4
output_formats = ["png", "webp", "jpeg"]
max_prompt_chars = 32000

[[models.{b.name}.routes]]
name = "fake"
provider = "openai"
credentials = "openai"
upstream_model = "fake/{b.segments}"

[models.{b.name}.prices.standard]
{prices}
"""
        )
    return "\n".join(blocks)


def litellm_yaml(upstream_port: int, upstream_key: str, master_key: str) -> str:
    lines = ["model_list:"]
    for b in BEHAVIOURS:
        lines += [
            f"  - model_name: {b.name}",
            "    litellm_params:",
            "      model: openai/gpt-image-1",
            f"      api_base: http://127.0.0.1:{upstream_port}/{b.segments}/v1",
            f"      api_key: {upstream_key}",
        ]
    lines += ["general_settings:", f"  master_key: {master_key}", ""]
    return "\n".join(lines)


__all__ = ["BEHAVIOURS", "SCENARIOS", "Behaviour", "Scenario", "litellm_yaml", "operator_toml"]
