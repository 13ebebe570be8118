"""The health state machine and breaker, driven by a clock and a seeded random source."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from syndicator.mirrors.health import (
    HealthBook,
    MirrorHealth,
    Policy,
    access,
    backoff_delay,
    failed,
    healthiest,
    succeeded,
)

T0 = datetime(2024, 6, 22, 12, 0, tzinfo=UTC)
POLICY = Policy(failures=3, backoff=60, max_backoff=600, jitter=0.2)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def fail_n(h: MirrorHealth, n: int, rng: random.Random, now: datetime = T0) -> MirrorHealth:
    for _ in range(n):
        h = failed(h, "timeout", "no answer", now, POLICY, rng)
    return h


@pytest.mark.parametrize(
    ("failures", "state", "wait"),
    [(0, "healthy", False), (1, "degraded", False), (2, "degraded", False), (3, "down", True)],
)
def test_failures_in_a_row_move_the_state(failures: int, state: str, wait: bool) -> None:
    h = fail_n(MirrorHealth("s", "http://a"), failures, random.Random(1))
    assert h.state == state
    assert h.consecutive_failures == failures
    assert (access(h, T0) == "wait") is wait


def test_breaker_backs_off_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    for opens, base in [(0, 60), (1, 120), (2, 240), (3, 480), (4, 600), (9, 600)]:
        delays = [backoff_delay(opens, POLICY, rng) for _ in range(200)]
        assert min(delays) >= min(base * 0.8, 600) - 1e-9
        assert max(delays) <= 600
        if base < 600:
            assert max(delays) <= base * 1.2
            assert len({round(d, 3) for d in delays}) > 100  # jittered, not fixed


def test_open_breaker_waits_then_allows_one_probe_and_doubles_after_a_failed_probe() -> None:
    rng = random.Random(3)
    h = fail_n(MirrorHealth("s", "http://a"), 3, rng)
    first_wait = (h.retry_at - T0).total_seconds()
    assert 48 <= first_wait <= 72
    # failures of requests already in flight when it opened do not stretch the wait
    late = failed(h, "timeout", "x", T0 + timedelta(seconds=1), POLICY, rng)
    assert late.retry_at == h.retry_at
    assert access(h, T0 + timedelta(seconds=first_wait - 1)) == "wait"
    probe_time = h.retry_at
    assert access(h, probe_time) == "probe"
    h = failed(h, "timeout", "x", probe_time, POLICY, rng)
    second_wait = (h.retry_at - probe_time).total_seconds()
    assert 96 <= second_wait <= 144 and h.state == "down" and h.opens == 2
    h = succeeded(h, 0.2, h.retry_at, POLICY)
    assert h.state == "degraded"  # answering again, but the failure rate is still high
    assert h.consecutive_failures == 0 and h.opens == 0 and h.retry_at is None
    for _ in range(10):
        h = succeeded(h, 0.2, h.last_success or T0, POLICY)
    assert h.state == "healthy"


@pytest.mark.parametrize(
    "pattern", [("ok", "ok", "fail"), ("ok", "fail", "ok"), ("fail", "ok", "ok")]
)
def test_flaky_mirror_is_degraded_whatever_the_order_of_answers(pattern: tuple[str, ...]) -> None:
    """One request in three fails: never three in a row, so never down; never healthy."""
    rng = random.Random(5)
    h = MirrorHealth("s", "http://a")
    for outcome in pattern * 3:
        h = (
            succeeded(h, 0.1, T0, POLICY)
            if outcome == "ok"
            else failed(h, "http-503", "HTTP 503", T0, POLICY, rng)
        )
        if h.successes + h.failures >= 3:
            assert h.state == "degraded"


def test_retry_after_pauses_a_mirror_without_opening_the_breaker() -> None:
    h = failed(MirrorHealth("s", "http://a"), "http-503", "x", T0, POLICY, random.Random(1), 120.0)
    assert h.state == "degraded"
    assert h.retry_at == T0 + timedelta(seconds=120)
    assert access(h, T0 + timedelta(seconds=119)) == "wait"
    assert access(h, T0 + timedelta(seconds=120)) == "pull"
    # a Retry-After beyond the cap is capped
    h = failed(
        MirrorHealth("s", "http://a"), "http-429", "x", T0, POLICY, random.Random(1), 86400.0
    )
    assert h.retry_at == T0 + timedelta(seconds=600)


def test_latency_is_a_moving_average() -> None:
    h = succeeded(MirrorHealth("s", "http://a"), 1.0, T0, POLICY)
    assert h.latency == 1.0
    h = succeeded(h, 2.0, T0, POLICY)
    assert h.latency == pytest.approx(1.3)


def test_healthiest_prefers_state_then_latency_then_order() -> None:
    a = MirrorHealth("s", "http://a", state="degraded", latency=0.1)
    b = MirrorHealth("s", "http://b", state="healthy", latency=0.5)
    c = MirrorHealth("s", "http://c", state="healthy", latency=0.2)
    d = MirrorHealth("s", "http://d", state="down", latency=0.01)
    assert healthiest([a, b, c, d]) == c
    assert healthiest([a, d]) == a
    assert healthiest([]) is None


def test_health_book_records_with_the_clock_it_is_given() -> None:
    clock = Clock()
    book = HealthBook("s", {}, POLICY, clock, random.Random(2))
    for _ in range(3):
        book.fail("http://a", "connect", "refused")
    assert book.access("http://a") == "wait" and not book.usable("http://a")
    clock.advance(POLICY.max_backoff + 1)
    assert book.access("http://a") == "probe"
    book.ok("http://a", 0.05)
    assert book.usable("http://a")
    assert [h.mirror for h in book.updated()] == ["http://a"]
    assert book.get("http://a").last_success == clock.now


@pytest.mark.parametrize(
    ("ended", "state", "redirects_to"),
    [
        (None, "healthy", None),  # no redirect
        ("http://www.a.test/Detail/1", "healthy", None),  # another path of its own
        ("https://www.a.test/Detail/1", "healthy", None),  # the other scheme
        ("https://a.test/Detail/1", "healthy", None),  # without www.
        ("https://b.test/Detail/1", "redirecting", "https://b.test"),  # another host
    ],
)
def test_an_answer_where_redirects_left_the_mirrors_host_is_a_redirect_there(
    ended: str | None, state: str, redirects_to: str | None
) -> None:
    # Followed to a host that is no mirror (follow_foreign_redirects), the answer was taken
    # for the mirror's own: `healthy`, nothing saying it had moved. Its own host under the
    # other scheme or without `www.` is no move.
    book = HealthBook("s", {}, POLICY, Clock(), random.Random(2))
    book.answered("http://www.a.test", ended, 0.1)
    h = book.get("http://www.a.test")
    assert (h.state, h.redirects_to) == (state, redirects_to)
    assert h.last_success == T0 and h.failures == 0
