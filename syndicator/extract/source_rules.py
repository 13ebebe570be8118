"""A source's own extraction rules (`ArticleRules`), made from its config block: selectors
that override the heuristics for a field, selectors and text patterns of blocks to strip,
and the blocks the source was learned to repeat on its pages (`templates`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from syndicator.extract import text_rules

if TYPE_CHECKING:
    from syndicator.core.source_config import Source

SELECTOR_FIELDS = ("body", "title", "author", "published", "updated", "image", "caption", "section")


@dataclass(frozen=True)
class ArticleRules:
    """A source's own extraction rules: selectors that override the heuristics for a field,
    selectors of blocks to strip, and text patterns of blocks to strip."""

    selectors: Mapping[str, str] = field(default_factory=dict)
    strip: tuple[str, ...] = ()
    strip_text: tuple[text_rules.Searcher, ...] = ()
    # Normalised texts of the blocks this source repeats on its pages (`templates`).
    site_blocks: frozenset[str] = frozenset()

    @classmethod
    def of(cls, source: Source) -> ArticleRules:
        selectors = source.selectors.model_dump(exclude_none=True) if source.selectors else {}
        return cls(
            selectors=selectors,
            strip=tuple(source.strip),
            strip_text=tuple(
                text_rules.rule(p, f"strip_text[{i}]") for i, p in enumerate(source.strip_text)
            ),
        )
