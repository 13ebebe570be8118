"""The labelled corpus: extraction quality, variant collapse and false merges, measured by the
same code as `bench/corpus.py`, and the corpus files are exactly what its generator writes."""

from __future__ import annotations

import json
from collections import Counter

from bench.corpus import CORPUS, TARGET_F1, measure, token_scores
from tests.corpus.generate import build


def test_corpus_meets_the_three_quality_targets() -> None:
    result = measure()
    assert not result.failed, [(p.name, p.error) for p in result.failed]
    assert result.mean_f1 >= TARGET_F1
    # every mirror variant of one article collapses to one hash and to one stored item
    assert result.hash_collapse == 1.0
    assert result.item_collapse == 1.0
    # and no two different articles share a hash or an item
    assert result.false_merges == []


def test_corpus_has_the_variety_it_claims() -> None:
    pages = json.loads((CORPUS / "manifest.json").read_text("utf-8"))["pages"]
    others = [p for p in pages if p["group"] != "sample"]
    assert len(others) >= 30
    assert len([p for p in pages if p["group"] == "sample"]) >= 3
    assert {p["language"] for p in pages} >= {"en", "es", "ar", "fa"}
    assert {p["declared"] for p in pages} >= {"meta", "header", "bom"}
    assert len({p["layout"] for p in pages}) >= 7
    groups = Counter(p["group"] for p in pages)
    assert all(n >= 2 for n in groups.values())
    raw = {p["name"]: (CORPUS / p["html"]).read_bytes() for p in pages}
    assert any(b"windows-1256" in raw[p["name"]] for p in pages)
    assert any(p["header_charset"] == "windows-1256" for p in pages)
    assert any(p["header_charset"] == "ISO-8859-1" for p in pages)
    assert any(raw[name].startswith(b"\xef\xbb\xbf") for name in raw)


def test_corpus_files_are_what_the_generator_writes() -> None:
    for rel, data in build().items():
        assert (CORPUS / rel).read_bytes() == data, rel


def test_token_scores_count_words_of_the_normal_form() -> None:
    assert token_scores("The “harbour” wall", 'the "Harbour" wall') == (1.0, 1.0, 1.0)
    precision, recall, f1 = token_scores("a b c d", "a b")
    assert (precision, recall) == (0.5, 1.0) and round(f1, 3) == 0.667
