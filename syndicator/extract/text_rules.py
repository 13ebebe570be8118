"""Operator text patterns (`strip_text` and the like): each compiled once, with a time limit
per search (`RuleTimeout` names the rule that ran too long), and traced so that
`syndicate extract` can say which rules removed something from a page."""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

import regex

from syndicator.core.selectors import compile_pattern

log = logging.getLogger("syndicator.extract")

# Seconds one search of one text may take. An ordinary pattern on an article's text takes
# microseconds; this only ever stops a runaway one.
SEARCH_TIMEOUT = 0.25


class RuleTimeout(Exception):
    """An operator pattern gave up on a text: its rule is skipped there."""

    def __init__(self, rule: str, pattern: str) -> None:
        self.rule = rule
        self.pattern = pattern
        super().__init__(
            f"{rule} {pattern!r} took longer than {SEARCH_TIMEOUT:g}s on one text and gave up"
        )


class Searcher(Protocol):
    """Anything with a `search(text)` that returns a match or None (a Rule, an re.Pattern)."""

    def search(self, text: str, /) -> object: ...


@dataclass(frozen=True)
class Rule:
    """One operator pattern and the name of its rule (`strip_text[0]`), searched with a time
    limit."""

    pattern: str
    rule: str
    _compiled: regex.Pattern[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", compile_pattern(self.pattern))

    def search(self, text: str, /) -> regex.Match[str] | None:
        """The first match in `text`, or None; RuleTimeout when the search runs too long."""
        try:
            return self._compiled.search(text, timeout=SEARCH_TIMEOUT)
        except TimeoutError:
            raise RuleTimeout(self.rule, self.pattern) from None


@lru_cache(maxsize=1024)
def rule(pattern: str, name: str) -> Rule:
    """The Rule for `pattern` (compiled once per pattern and name)."""
    return Rule(pattern, name)


# Told the name of every rule that removes something, for `syndicate extract` to show. A
# context variable, so that one extraction's trace never sees another's.
RuleTrace = Callable[[str], None]


current_trace: contextvars.ContextVar[RuleTrace | None] = contextvars.ContextVar(
    "trace", default=None
)


@contextlib.contextmanager
def tracing(trace: RuleTrace | None) -> Iterator[None]:
    """While inside, every rule that removes an element is reported to `trace`."""
    token = current_trace.set(trace)
    try:
        yield
    finally:
        current_trace.reset(token)


class PageRules:
    """The operator rules that gave up on the page being cleaned: each is skipped for the
    rest of it (a second block would only take as long again), and reported once."""

    def __init__(self, url: str | None) -> None:
        self.url = url
        self.gave_up: set[str] = set()

    def skip(self, pattern: Searcher) -> bool:
        return getattr(pattern, "rule", None) in self.gave_up

    def gave_up_on(self, exc: RuleTimeout) -> None:
        self.gave_up.add(exc.rule)
        where = self.url or "this text"
        log.warning(
            "%s: not applied to %s",
            exc,
            where,
            extra={"rule": exc.rule, "pattern": exc.pattern, "url": self.url},
        )


current_page: contextvars.ContextVar[PageRules | None] = contextvars.ContextVar(
    "page", default=None
)


@contextlib.contextmanager
def on_page(url: str) -> Iterator[None]:
    """While inside, the text patterns of a source are applied to the page at `url`: one that
    gives up (too slow) is reported once, naming the page, and skipped for the rest of it."""
    token = current_page.set(PageRules(url))
    try:
        yield
    finally:
        current_page.reset(token)


def matches_any(text: str, patterns: Sequence[Searcher], page: PageRules) -> bool:
    """One of `patterns` is found in `text`; a pattern that runs out of time is skipped for
    the rest of the page and said so."""
    for pattern in patterns:
        if page.skip(pattern):
            continue
        try:
            if pattern.search(text):
                return True
        except RuleTimeout as exc:
            page.gave_up_on(exc)
    return False
