"""Mirror health: the state machine and circuit breaker that decide whether a mirror is asked.

What the states mean (after every request the state is worked out again):

- `healthy`: the last request got valid content and recent requests rarely failed (the
  moving failure rate is under `degraded_rate`, 10 %). The mirror is pulled normally.
- `degraded`: the mirror still answers but not reliably: the last request failed (fewer than
  `failures` in a row), or the moving failure rate is 10 % or more, or it asked us to wait
  (429/503 with Retry-After). It is still pulled, except while a Retry-After wait runs.
- `down`: `failures` requests failed in a row; the breaker is open. The mirror is not asked
  at all until `retry_at` (a backoff of `backoff * 2**n`, n the number of failed probes
  since the last success, capped at `max_backoff`, spread by +/- `jitter`). Then it is
  half-open: exactly one probe request is sent. A valid answer closes the breaker (the
  mirror is pulled in full again and its failure streak and backoff are forgotten); a
  failure opens it again with the next, doubled, backoff.
- `redirecting`: every request of the last pull that the mirror answered was answered by a
  redirect to another mirror of the source, whose answer was followed (that mirror's health
  counts it), or to a host that is no mirror, followed to valid content
  (`follow_foreign_redirects`). The mirror is up, and pulled as a healthy one is; where it
  redirects is kept (`redirects_to`), and an answer of its own, in that pull or a later one,
  makes it `healthy`. Counted for no mirror, it showed as never asked (`unknown`); counted
  as its own answer, `healthy`, nothing saying it had moved. While the mirror it redirects
  to may not be asked (`down`, or waiting), it is not asked either.

A failure is any request that did not give what was asked for: no connection, timeout,
HTTP error, or a 200 that validation refused (notice page, not a feed, no article body). A
request cancelled because another mirror's copy came first (a hedged fetch) is not: it only
moves the latency (`slowed`), and `hedge_delay` says how long a mirror is waited for.
Pure: takes a clock reading and a random source, never reads the time or does I/O.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from syndicator.core import identity
from syndicator.core.source_config import Breaker

State = Literal["healthy", "redirecting", "degraded", "down"]
Access = Literal["pull", "probe", "wait"]
# Best first: which mirror published links point at (`healthiest`).
STATES: tuple[State, ...] = ("healthy", "redirecting", "degraded", "down")
# The `last_error_kind` of a redirecting mirror: its `last_error` is the origin it redirects to
# (the store keeps no other column for it). No failure: `failures` does not count it.
REDIRECT = "redirect"


@dataclass(frozen=True)
class Policy:
    failures: int = 3
    backoff: float = 60.0
    max_backoff: float = 3600.0
    jitter: float = 0.2
    latency_alpha: float = 0.3
    error_alpha: float = 0.3
    degraded_rate: float = 0.1

    @classmethod
    def of(cls, breaker: Breaker) -> Policy:
        return cls(
            failures=breaker.failures,
            backoff=breaker.backoff,
            max_backoff=breaker.max_backoff,
            jitter=breaker.jitter,
        )


@dataclass(frozen=True)
class MirrorHealth:
    source: str
    mirror: str
    state: State = "healthy"
    consecutive_failures: int = 0
    # Failed probes since the breaker last opened from a closed state: the backoff exponent.
    opens: int = 0
    error_rate: float = 0.0
    latency: float | None = None
    last_success: datetime | None = None
    last_failure: datetime | None = None
    last_error_kind: str | None = None
    last_error: str | None = None
    retry_at: datetime | None = None
    successes: int = 0
    failures: int = 0

    @property
    def tried(self) -> bool:
        return self.successes + self.failures > 0

    @property
    def redirects_to(self) -> str | None:
        """The mirror a `redirecting` mirror sends its requests to."""
        return self.last_error if self.state == "redirecting" else None


def access(h: MirrorHealth, now: datetime) -> Access:
    """`pull` it, send one `probe` (breaker half-open), or `wait` (open, or Retry-After)."""
    if h.retry_at is not None and now < h.retry_at:
        return "wait"
    return "probe" if h.state == "down" else "pull"


# A candidate mirror that has not answered since a page last named it, and that no page has
# named for this long, is retired: not probed again until a page names it again. An adopted
# mirror that has given no valid answer for this long is retired too (`adopted_retired`).
RETIRE_AFTER = timedelta(days=30)
# ... and only once this many requests to it failed in a row: a mirror the service did not
# ask for a month (the service was stopped) is not retired on its first failure back.
RETIRE_FAILURES = 10


def retired(h: MirrorHealth | None, last_announced: datetime, now: datetime) -> bool:
    """Whether a candidate mirror is retired: asked, with no valid answer since a page last
    named it, and named by no page for RETIRE_AFTER (a host the publisher stopped
    announcing, never the site's; or a retired adopted mirror named once more, dead since)."""
    return (
        h is not None
        and (h.last_success is None or h.last_success < last_announced)
        and h.last_failure is not None
        and now - last_announced >= RETIRE_AFTER
    )


def last_asked(healths: Iterable[MirrorHealth]) -> datetime | None:
    """When a pull last asked any of these mirrors: what a candidate's retirement is judged
    at between pulls. By the time of day, a service stopped for a month showed every
    candidate retired before its first pull back could read the pages that name them."""
    times = [t for h in healths for t in (h.last_success, h.last_failure) if t is not None]
    return max(times, default=None)


def adopted_retired(h: MirrorHealth | None, others: Iterable[MirrorHealth], now: datetime) -> bool:
    """Whether an adopted mirror is retired (no longer pulled): it has given no valid answer
    for RETIRE_AFTER of being asked (from its last success to its last failure, so that time
    the service was stopped does not count), its last RETIRE_FAILURES requests or more all
    failed, and another of the source's mirrors (`others`) gave a valid answer within
    RETIRE_AFTER of `now`: the last mirror that works, or all of them failing together (the
    service's own network), retires none."""
    if h is None or h.last_success is None or h.last_failure is None:
        return False
    if h.consecutive_failures < RETIRE_FAILURES or h.last_failure - h.last_success < RETIRE_AFTER:
        return False
    return any(
        o.mirror != h.mirror and o.last_success is not None and now - o.last_success < RETIRE_AFTER
        for o in others
    )


def backoff_delay(opens: int, policy: Policy, rng: random.Random) -> float:
    """Seconds before the next probe after `opens` earlier failed probes."""
    base = min(policy.max_backoff, policy.backoff * 2 ** min(opens, 32))
    spread = base * rng.uniform(-policy.jitter, policy.jitter)
    return max(1.0, min(policy.max_backoff, base + spread))


def _state(h: MirrorHealth, policy: Policy) -> State:
    if h.consecutive_failures >= policy.failures:
        return "down"
    if h.consecutive_failures > 0 or h.error_rate >= policy.degraded_rate:
        return "degraded"
    if h.retry_at is not None:
        return "degraded"
    return "healthy"


def succeeded(
    h: MirrorHealth, latency: float | None, now: datetime, policy: Policy
) -> MirrorHealth:
    """A request got valid content (a 304 counts: the mirror confirmed what we have).

    A wait the mirror asked for (Retry-After) that has not passed is kept: a request sent
    before it asked, answered after, does not end it. A success closes an open breaker.
    `latency` None: not known (a redirect the mirror answered, to a mirror that then
    failed); the moving average stays as it was."""
    a = policy.latency_alpha
    ema = h.latency if latency is None else latency
    if latency is not None and h.latency is not None:
        ema = a * latency + (1 - a) * h.latency
    asked_wait = h.state != "down" and h.retry_at is not None and now < h.retry_at
    after = replace(
        h,
        consecutive_failures=0,
        opens=0,
        error_rate=(1 - policy.error_alpha) * h.error_rate,
        latency=ema,
        last_success=now,
        retry_at=h.retry_at if asked_wait else None,
        successes=h.successes + 1,
    )
    if h.state == "redirecting":
        # Where it redirected was no error: not shown as its last one once it answers.
        after = replace(after, last_error_kind=None, last_error=None)
    return replace(after, state=_state(after, policy))


def redirected(
    h: MirrorHealth, target: str, latency: float | None, now: datetime, policy: Policy
) -> MirrorHealth:
    """A request was answered by a redirect to the mirror `target`, followed: the mirror is up
    (a success, as `succeeded`), and `redirecting` unless its recent failures or a wait it
    asked for make it `degraded` (that says more, and its last error is kept)."""
    after = succeeded(h, latency, now, policy)
    if after.state != "healthy":
        return after
    return replace(after, state="redirecting", last_error_kind=REDIRECT, last_error=target)


def slowed(h: MirrorHealth, waited: float, policy: Policy) -> MirrorHealth:
    """A request was given up after `waited` seconds because another mirror answered first
    (a hedged fetch): no failure, the mirror only proved slow. Its latency moves towards the
    time waited (a lower bound of what it would have taken); its state does not change."""
    if h.latency is not None and waited <= h.latency:
        return h
    a = policy.latency_alpha
    ema = waited if h.latency is None else a * waited + (1 - a) * h.latency
    return replace(h, latency=ema)


# Hedged fetches: how long the mirror asked first is waited for before the same article is
# asked of the next one: a few times its usual latency, between HEDGE_FLOOR and HEDGE_MAX;
# HEDGE_MAX for a mirror with no latency known yet. The ceiling matters: the time waited for
# a copy given up counts towards the mirror's latency, so without it a mirror that is always
# slow would push its own delay up until it was waited for in full again.
HEDGE_FACTOR = 3.0
HEDGE_FLOOR = 0.5
HEDGE_MAX = 2.0


def hedge_delay(h: MirrorHealth) -> float:
    """Seconds to wait for this mirror's answer before hedging to another mirror."""
    if h.latency is None:
        return HEDGE_MAX
    return min(HEDGE_MAX, max(HEDGE_FLOOR, HEDGE_FACTOR * h.latency))


def failed(
    h: MirrorHealth,
    kind: str,
    message: str,
    now: datetime,
    policy: Policy,
    rng: random.Random,
    retry_after: float | None = None,
) -> MirrorHealth:
    """A request failed; opens the breaker on the `failures`-th failure in a row."""
    streak = h.consecutive_failures + 1
    retry_at, opens = h.retry_at, h.opens
    if streak >= policy.failures:
        # A new backoff when the breaker opens or a probe fails; requests already in flight
        # when it opened do not stretch the wait again.
        waiting = h.state == "down" and retry_at is not None and now < retry_at
        if not waiting:
            retry_at = now + timedelta(seconds=backoff_delay(opens, policy, rng))
            opens += 1
    if retry_after is not None:
        asked = now + timedelta(seconds=min(retry_after, policy.max_backoff))
        retry_at = max(retry_at, asked) if retry_at is not None else asked
    after = replace(
        h,
        consecutive_failures=streak,
        opens=opens,
        error_rate=policy.error_alpha + (1 - policy.error_alpha) * h.error_rate,
        last_failure=now,
        last_error_kind=kind,
        last_error=message[:500],
        retry_at=retry_at,
        failures=h.failures + 1,
    )
    return replace(after, state=_state(after, policy))


def healthiest(healths: Sequence[MirrorHealth]) -> MirrorHealth | None:
    """Best state first, then lowest latency, then the configured order."""
    if not healths:
        return None
    rank = {s: i for i, s in enumerate(STATES)}
    order = sorted(
        range(len(healths)),
        key=lambda i: (
            rank[healths[i].state],
            healths[i].latency if healths[i].latency is not None else float("inf"),
            i,
        ),
    )
    return healths[order[0]]


def tally(healths: Iterable[MirrorHealth]) -> dict[State, int]:
    counts: dict[State, int] = {s: 0 for s in STATES}
    for h in healths:
        counts[h.state] += 1
    return counts


class HealthBook:
    """The health of one source's mirrors during a pull: decisions and recorded outcomes."""

    def __init__(
        self,
        source: str,
        known: dict[str, MirrorHealth],
        policy: Policy,
        clock: Callable[[], datetime],
        rng: random.Random,
    ) -> None:
        self.source = source
        self.policy = policy
        self.clock = clock
        self.rng = rng
        self._health = dict(known)
        self.changed: set[str] = set()
        # No wait is longer than max_backoff (a backoff and a Retry-After are both capped at
        # it): a retry time further away was set by a clock since stepped back (NTP fixing
        # a clock that ran a day ahead), and kept every mirror unasked for that long.
        horizon = clock() + timedelta(seconds=policy.max_backoff)
        for mirror, h in known.items():
            if h.retry_at is not None and h.retry_at > horizon:
                self._health[mirror] = replace(h, retry_at=horizon)
                self.changed.add(mirror)
        self._probed: set[str] = set()
        # The mirrors that answered a request of this pull themselves (no redirect).
        self._answered: set[str] = set()
        # This pull's requests per mirror: [answered, failed, total latency of the answered,
        # answered whose latency is known].
        self.tally: dict[str, list[float]] = {}

    def get(self, mirror: str) -> MirrorHealth:
        return self._health.get(mirror) or MirrorHealth(self.source, mirror)

    def access(self, mirror: str) -> Access:
        """`access` of the mirror; `wait` too for a mirror `redirecting` to another mirror
        of the source that may not be asked (down, or waiting): each of its requests went on
        to that one, whose breaker and Retry-After never held."""
        h, now = self.get(mirror), self.clock()
        target = self._health.get(h.redirects_to or "")
        if target is not None and target.mirror != mirror and access(target, now) != "pull":
            return "wait"
        return access(h, now)

    def claim_probe(self, mirror: str) -> bool:
        """True for the one caller that may send the half-open probe of a down mirror."""
        if self.access(mirror) != "probe" or mirror in self._probed:
            return False
        self._probed.add(mirror)
        return True

    def usable(self, mirror: str) -> bool:
        """Whether a request to the mirror may be sent now (not waiting, not down)."""
        return self.access(mirror) == "pull"

    def ok(self, mirror: str, latency: float) -> None:
        self._health[mirror] = succeeded(self.get(mirror), latency, self.clock(), self.policy)
        self._answered.add(mirror)
        self.changed.add(mirror)
        self._count_answer(mirror, latency)

    def answered(self, mirror: str, ended: str | None, latency: float) -> None:
        """A request to `mirror` got valid content where its redirects ended, `ended` (None:
        no redirect). Off the mirror's host (a redirect followed to a host that is no mirror),
        the mirror is up and redirecting to that host (`redirected`); on its own host (another
        path, the other scheme, with or without `www.`) it answered itself (`ok`)."""
        if ended is not None and identity.known_origin(ended, (mirror,)) is None:
            self.redirected(mirror, identity.origin(ended), latency)
        else:
            self.ok(mirror, latency)

    def redirected(self, mirror: str, target: str, latency: float | None) -> None:
        """A request to `mirror` was redirected to the mirror `target` (`redirected`); a
        success only (`succeeded`) when the mirror answered another request of this pull
        itself: it is `redirecting` when all it answered in the pull was a redirect, not
        when its last answer happened to be one (a mirror serving its feeds and redirecting
        its article pages showed `healthy` or `redirecting` by which came last). `latency`
        None: not known (the request failed at `target`, which counts the failure)."""
        h, now = self.get(mirror), self.clock()
        if mirror in self._answered:
            self._health[mirror] = succeeded(h, latency, now, self.policy)
        else:
            self._health[mirror] = redirected(h, target, latency, now, self.policy)
        self.changed.add(mirror)
        self._count_answer(mirror, latency)

    def _count_answer(self, mirror: str, latency: float | None) -> None:
        counts = self.tally.setdefault(mirror, [0, 0, 0.0, 0])
        counts[0] += 1
        if latency is not None:
            counts[2] += latency
            counts[3] += 1

    def slow(self, mirror: str, waited: float) -> None:
        """A request to the mirror was given up after `waited` seconds for a faster copy."""
        before = self.get(mirror)
        after = slowed(before, waited, self.policy)
        if after is not before:
            self._health[mirror] = after
            self.changed.add(mirror)

    def hedge_delay(self, mirror: str) -> float:
        return hedge_delay(self.get(mirror))

    def fail(self, mirror: str, kind: str, message: str, retry_after: float | None = None) -> None:
        h = failed(
            self.get(mirror), kind, message, self.clock(), self.policy, self.rng, retry_after
        )
        self._health[mirror] = h
        self.changed.add(mirror)
        self.tally.setdefault(mirror, [0, 0, 0.0, 0])[1] += 1

    def updated(self) -> list[MirrorHealth]:
        return [self._health[m] for m in sorted(self.changed)]

    def history(self) -> list[MirrorPull]:
        """How each mirror asked in this pull did, for the dashboard's timeline."""
        out = []
        for mirror in sorted(self.tally):
            ok, bad, total, timed = self.tally[mirror]
            h = self.get(mirror)
            out.append(
                MirrorPull(
                    source=self.source,
                    mirror=mirror,
                    successes=int(ok),
                    failures=int(bad),
                    latency=total / timed if timed else None,
                    state=h.state,
                    error=f"{h.last_error_kind}: {h.last_error}" if bad and h.last_error else None,
                )
            )
        return out


@dataclass(frozen=True)
class MirrorPull:
    """One mirror in one pull: requests answered and failed, their mean latency (seconds),
    the state it was left in, its last error when something failed; `at` once stored."""

    source: str
    mirror: str
    successes: int
    failures: int
    latency: float | None
    state: str
    error: str | None = None
    at: datetime | None = None
