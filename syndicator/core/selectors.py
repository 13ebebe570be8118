"""The selectors a config names (CSS, or XPath when it starts with `/`, `./` or `(`), and its
patterns (regular expressions, with the `regex` package), compiled.

In the core because the config checks every selector when it is read, and extraction uses the
same compiled form: one rule for what a selector means.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import regex
from cssselect import GenericTranslator, SelectorError
from lxml import etree

Selector = Callable[[etree._Element], list[object]]


def compile_selector(selector: str) -> Selector:
    """A CSS selector, or an XPath expression when it starts with `/`, `./` or `(`.

    Raises ValueError naming the problem when the selector does not compile."""
    text = selector.strip()
    try:
        if text.startswith(("/", "./", "(")):
            xpath = etree.XPath(text)
        else:
            xpath = etree.XPath(GenericTranslator().css_to_xpath(text))
    except (SelectorError, etree.XPathSyntaxError) as exc:
        raise ValueError(f"{selector!r} is neither a CSS selector nor an XPath: {exc}") from None

    def select(root: etree._Element) -> list[object]:
        found = xpath(root)
        return list(found) if isinstance(found, list) else [found]

    return select


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> regex.Pattern[str]:
    """`pattern` compiled; ValueError with the reason when it is not a regular expression.
    Searches with it are given a time limit where they run (`extract.clean.Rule`)."""
    try:
        return regex.compile(pattern)
    except (regex.error, ValueError, OverflowError) as exc:
        raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
