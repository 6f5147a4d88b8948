"""imagegate.routing.retry: attempts, what is retried, Retry-After and the deadline, with a scripted Provider."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence

import pytest

from imagegate.config import load_catalog
from imagegate.domain.errors import ContentBlocked
from imagegate.domain.request import ImageRequest, parse_image_request
from imagegate.domain.upstream import (
    GeneratedImage,
    RetryableUpstreamError,
    UpstreamProblem,
    UpstreamRejected,
    UpstreamTimedOut,
)
from imagegate.routing.retry import RetryPolicy, RouteCall, call_with_retries

REQUEST: ImageRequest = parse_image_request({"model": "gpt-image-2", "prompt": "a cat"}, load_catalog())
IMAGES = [GeneratedImage(data=b"\x89PNG fake", revised_prompt="a cat", quality="medium")]
FAST = RetryPolicy(attempts=3, base_seconds=0.001, max_seconds=0.5)

Step = BaseException | list[GeneratedImage]


class ScriptedProvider:
    """A Provider that answers each call with the next step of its script: raise it, or return it."""

    def __init__(self, script: Sequence[Step]) -> None:
        self.script = list(script)
        self.calls: list[float] = []  # the timeout each call was given
        self.called_at: list[float] = []
        self.closed = False

    async def generate(self, request: ImageRequest, *, timeout: float) -> list[GeneratedImage]:
        assert request is REQUEST
        self.calls.append(timeout)
        self.called_at.append(time.monotonic())
        if not self.script:
            raise AssertionError("the provider was called more often than scripted")
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step

    async def aclose(self) -> None:
        self.closed = True


def run(
    provider: ScriptedProvider,
    *,
    policy: RetryPolicy = FAST,
    attempt_timeout: float = 10.0,
    deadline_in: float = 10.0,
    call: RouteCall | None = None,
) -> tuple[list[GeneratedImage], RouteCall]:
    call = call if call is not None else RouteCall()

    async def go() -> list[GeneratedImage]:
        return await call_with_retries(
            lambda timeout: provider.generate(REQUEST, timeout=timeout),
            policy=policy,
            attempt_timeout=attempt_timeout,
            deadline=time.monotonic() + deadline_in,
            call=call,
            rng=random.Random(7),
        )

    return asyncio.run(go()), call


def run_failing(provider: ScriptedProvider, **kwargs: object) -> tuple[BaseException, RouteCall]:
    call = RouteCall()
    with pytest.raises(BaseException) as raised:
        run(provider, call=call, **kwargs)  # type: ignore[arg-type]
    return raised.value, call


def test_success_first_time_is_one_attempt() -> None:
    provider = ScriptedProvider([IMAGES])
    images, call = run(provider)
    assert images is IMAGES
    assert call.attempts == 1
    assert len(provider.calls) == 1


def test_retryable_errors_are_retried_until_success() -> None:
    provider = ScriptedProvider([RetryableUpstreamError("502"), UpstreamTimedOut("slow"), IMAGES])
    images, call = run(provider)
    assert images is IMAGES
    assert call.attempts == 3
    assert len(provider.calls) == 3


def test_attempt_budget_ends_with_the_last_problem() -> None:
    last = RetryableUpstreamError("third 503")
    provider = ScriptedProvider([RetryableUpstreamError("503"), RetryableUpstreamError("503"), last, IMAGES])
    error, call = run_failing(provider)
    assert error is last
    assert call.attempts == 3
    assert len(provider.script) == 1  # the fourth step was never asked for


def test_one_attempt_policy_never_retries() -> None:
    problem = RetryableUpstreamError("500")
    error, call = run_failing(ScriptedProvider([problem, IMAGES]), policy=RetryPolicy(1, 0.001, 0.5))
    assert error is problem
    assert call.attempts == 1


def test_attempts_accumulate_on_a_shared_route_call() -> None:
    call = RouteCall()
    run(ScriptedProvider([RetryableUpstreamError("500"), IMAGES]), call=call)
    run(ScriptedProvider([IMAGES]), call=call)
    assert call.attempts == 3


def test_rejected_is_not_retried() -> None:
    rejected = UpstreamRejected("401 from the upstream: bad key")
    error, call = run_failing(ScriptedProvider([rejected, IMAGES]))
    assert error is rejected
    assert call.attempts == 1


def test_rejected_after_a_retry_stops_there() -> None:
    rejected = UpstreamRejected("400 from the upstream")
    provider = ScriptedProvider([RetryableUpstreamError("500"), rejected, IMAGES])
    error, call = run_failing(provider)
    assert error is rejected
    assert call.attempts == 2


@pytest.mark.parametrize("before", [[], [RetryableUpstreamError("500")]])
def test_content_blocked_passes_through_untouched(before: list[Step]) -> None:
    blocked = ContentBlocked("The upstream refused the prompt.", stage="upstream")
    provider = ScriptedProvider([*before, blocked, IMAGES])
    error, call = run_failing(provider)
    assert error is blocked
    assert type(error) is ContentBlocked
    assert not isinstance(error, UpstreamProblem)
    assert (error.code, error.stage, error.message) == (
        "prompt_blocked",
        "upstream",
        "The upstream refused the prompt.",
    )
    assert error.__cause__ is None
    assert call.attempts == len(before) + 1


def test_unexpected_exceptions_are_not_retried() -> None:
    bug = ValueError("a bug in a provider")
    error, call = run_failing(ScriptedProvider([bug, IMAGES]))
    assert error is bug
    assert call.attempts == 1


def test_retry_after_longer_than_max_seconds_stops_retrying() -> None:
    limited = RetryableUpstreamError("429", retry_after=30)
    started = time.monotonic()
    error, call = run_failing(ScriptedProvider([limited, IMAGES]), policy=RetryPolicy(3, 0.001, 1.0))
    assert error is limited
    assert call.attempts == 1
    assert time.monotonic() - started < 1.0  # did not wait


def test_retry_after_within_max_seconds_is_honoured() -> None:
    provider = ScriptedProvider([RetryableUpstreamError("429", retry_after=0.2), IMAGES])
    images, call = run(provider, policy=RetryPolicy(3, 0.001, 1.0))
    assert images is IMAGES
    assert call.attempts == 2
    assert provider.called_at[1] - provider.called_at[0] >= 0.2


def test_deadline_already_passed_makes_no_call() -> None:
    provider = ScriptedProvider([IMAGES])
    error, call = run_failing(provider, deadline_in=-0.01)
    assert isinstance(error, UpstreamTimedOut)
    assert call.attempts == 0
    assert provider.calls == []


def test_a_wait_past_the_deadline_is_not_taken() -> None:
    limited = RetryableUpstreamError("429", retry_after=0.4)
    started = time.monotonic()
    error, call = run_failing(ScriptedProvider([limited, IMAGES]), policy=RetryPolicy(3, 0.001, 1.0), deadline_in=0.2)
    assert error is limited
    assert call.attempts == 1
    assert time.monotonic() - started < 0.2


def test_backoff_that_would_cross_the_deadline_is_not_taken() -> None:
    problem = RetryableUpstreamError("503")
    policy = RetryPolicy(attempts=5, base_seconds=10, max_seconds=10)  # jittered waits of up to 10 s
    started = time.monotonic()
    provider = ScriptedProvider([problem] * 5)
    # seed 7's first draw is well above 0.3 s, so the wait cannot fit in the deadline
    assert policy.backoff(1, random.Random(7)) > 0.3
    error, call = run_failing(provider, policy=policy, deadline_in=0.3)
    assert error is problem
    assert call.attempts == 1
    assert time.monotonic() - started < 0.3


def test_each_attempt_gets_at_most_the_time_left() -> None:
    provider = ScriptedProvider([RetryableUpstreamError("500"), IMAGES])
    run(provider, attempt_timeout=60, deadline_in=5)
    assert all(0 < t <= 5 for t in provider.calls)
    provider = ScriptedProvider([IMAGES])
    run(provider, attempt_timeout=1.5, deadline_in=5)
    assert provider.calls == [1.5]


def test_backoff_is_full_jitter_capped() -> None:
    policy = RetryPolicy(attempts=10, base_seconds=0.5, max_seconds=3)
    rng = random.Random(1)
    for attempt in range(1, 10):
        ceiling = min(3, 0.5 * 2 ** (attempt - 1))
        draws = [policy.backoff(attempt, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in draws)
        assert max(draws) > ceiling / 2  # spread over the range, not a constant
