"""The mirror host names the normal form removes: found as the pattern finds them, ignoring
case as Python's `re` does, also where a cheap look at the case-folded text decides that no
scan is needed."""

from __future__ import annotations

import re

import pytest

from syndicator.core import identity

HOSTS = identity.host_names(["https://www.isna.ir", "https://mirror.example"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Read https://www.ISNA.ir/news/1 today", "read today"),
        ("Read ISNA.IR/x today", "read today"),
        ("خبر isna.ir/x امروز", "خبر امروز"),
        # Letters `re` takes for an ASCII i or s ignoring case (long s folds to s, dotted and
        # dotless i fold to others): the host is still found and removed.
        ("Read İSNA.IR/x today, خبر", "read today, خبر"),
        ("Read ısna.ır/x today, خبر", "read today, خبر"),
        ("Read iſna.ir/x today, خبر", "read today, خبر"),
        ("No mirror named here, خبر", "no mirror named here, خبر"),
    ],
)
def test_mirror_hosts_are_removed_in_any_case_the_pattern_matches(text: str, expected: str) -> None:
    assert identity.normalise(text, HOSTS) == expected


def test_every_letter_re_matches_to_a_host_letter_is_one_the_check_knows() -> None:
    # The check looks for each host in the case-folded text; a letter that `re` matches to
    # a letter of a host name ignoring case, but that case-folds to something else, must
    # make the check give way to the scan (this Python's Unicode tables decide which).
    others = "".join(chr(c) for c in range(0x80, 0x110000) if not 0xD800 <= c <= 0xDFFF)
    twins = set()
    for letter in "abcdefghijklmnopqrstuvwxyz0123456789.-_":
        for found in re.finditer(re.escape(letter), others, re.I):
            if found.group().casefold() != letter:
                twins.add(found.group())
    assert twins <= set(identity._CASE_TWINS)
