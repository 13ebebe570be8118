"""The values a config holds, one at a time: durations and sizes as operators write them
("90s", "10 MB") and durations as reports show them ("3d4h"), paths, `${VARIABLE}`s left
unexpanded, operator selectors, patterns and titles, and text no config can hold (lone
surrogates, control characters in a header). Each parser or check names what is wrong with a
value; the models in `config` use them on their keys. Addresses (origins, routes, the store
URL, the listen address) are `config_addresses`'."""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Annotated
from urllib.parse import SplitResult

from pydantic import (
    AfterValidator,
    BeforeValidator,
)

from syndicator.core.directions import directions_closed
from syndicator.core.selectors import compile_pattern, compile_selector

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")


_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?\s*$", re.IGNORECASE)


_SIZE_UNITS = {
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}


# A section or source name, matched whole: `$` would let a final newline through.
SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")


MINUTE = 60.0


HOUR = 3600.0


DAY = 86400.0


# No duration is longer than this: a longer wait is a typo, and far longer ones overflow the
# date arithmetic of the scheduler and the store.
LONGEST = 3650 * DAY


def parse_duration(value: object) -> float:
    """'90s', '10m', '1h30m', '250ms' or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration such as 30s, 10m or 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            text += "s"
        parts = _DURATION_PART.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ValueError(f"{value!r} is not a duration such as 30s, 10m or 1h30m")
        seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
    else:
        raise ValueError("a duration such as 30s, 10m or 1h")
    if not math.isfinite(seconds):
        raise ValueError(f"{value!r} is not a finite duration")
    if seconds <= 0:
        raise ValueError("a duration must be greater than zero")
    if seconds > LONGEST:
        raise ValueError(f"a duration must be at most {format_duration(LONGEST)}")
    return seconds


def format_duration(seconds: float) -> str:
    """Seconds as the config writes them: 250ms, 1s, 90s, 10m, 7d."""
    for unit, size in (("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", 1.0)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


def human_age(seconds: float) -> str:
    """3d4h, 2h5m, 2h, 7m, 40s: the largest unit and the next one when it is not zero."""
    seconds = max(0, int(seconds))
    units = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))
    for i, (unit, size) in enumerate(units):
        if seconds >= size or unit == "s":
            text = f"{seconds // size}{unit}"
            if i + 1 < len(units):
                next_unit, next_size = units[i + 1]
                if part := (seconds % size) // next_size:
                    text += f"{part}{next_unit}"
            return text
    return "0s"


def _bounded(seconds: float, low: float, high: float) -> float:
    """`seconds` when within [low, high]; else a ValueError saying the bound in the config's
    own units."""
    if seconds < low:
        raise ValueError(
            f"must be at least {format_duration(low)} (got {format_duration(seconds)})"
        )
    if seconds > high:
        raise ValueError(
            f"must be at most {format_duration(high)} (got {format_duration(seconds)})"
        )
    return seconds


def within(low: float, high: float) -> AfterValidator:
    """Bounds of one duration key, checked after parsing, said in the config's own units."""
    return AfterValidator(lambda seconds: _bounded(seconds, low, high))


def parse_size(value: object) -> int:
    """'10MiB', '500 KB' or a number of bytes -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str) and (m := _SIZE.match(value)):
        number = float(m.group(1)) * _SIZE_UNITS[(m.group(2) or "b").lower()]
        if not math.isfinite(number):
            raise ValueError(f"{value!r} is not a finite size")
        size = int(number)
    else:
        raise ValueError(f"{value!r} is not a size such as 10MiB or 500KB")
    if size <= 0:
        raise ValueError("a size must be greater than zero")
    return size


Duration = Annotated[float, BeforeValidator(parse_duration)]


Size = Annotated[int, BeforeValidator(parse_size)]


# What a shell or systemd would expand, and the config does not: `${NAME}` anywhere, `$NAME`
# in a path, `~` or `~user` opening a path.
_BRACED_VARIABLE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")


_VARIABLE = re.compile(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?")


def check_unexpanded(
    value: str, path: str | None, *, example: str, override: str = "", shown: str = ""
) -> None:
    """A ValueError for a variable or a `~` in `value` (whose file path is `path`) that the
    operator meant to be expanded: the config expands nothing, and the path was taken as
    written, a folder named `${DATA_DIR}` or `~` made beside the config. `example` is a
    full value to show; `override`, the environment variable that can give it instead;
    `shown`, `value` as the message shows it (a password hidden)."""
    shown = shown or value
    found = _BRACED_VARIABLE.search(value) or (_VARIABLE.search(path) if path else None)
    if found:
        instead = f", or set {override} in the environment" if override else ""
        raise ValueError(
            f"{shown!r}: the config expands no environment variable {found.group()}; write "
            f"the value itself{instead}"
        )
    if path and path.startswith("~"):
        raise ValueError(
            f"{shown!r}: '~' is not expanded in a path; write the full path, such as {example}"
        )


def check_url_unexpanded(value: str, parts: SplitResult, override: str = "") -> None:
    """A ValueError for a `${NAME}` anywhere in an http(s) URL the config gives, or a `$NAME`
    in its host: the config expands nothing, and `https://${PUBLISHER_HOST}` was taken as
    a host of that name (every fetch failed) or, in public_url, put in every self link. A
    user name and password (a proxy's) are not looked at: a password may hold a `$`."""
    userinfo, at, host = parts.netloc.rpartition("@")
    shown = value.replace(userinfo + at, "***@", 1) if at else value
    check_unexpanded(shown, host, example="https://www.example.org", override=override)


def file_path(url: str) -> str:
    """The path a `file:` URL names, as RFC 8089 reads it: `file:///abs` and
    `file://localhost/abs` name /abs; `file:rel` and `file:/abs` name what follows `file:`.
    A ValueError for a URL naming another machine (`file://host/path`)."""
    rest = url[len("file:") :]
    if not rest.startswith("//"):
        return rest
    host, slash, path = rest[2:].partition("/")
    if host.lower() not in ("", "localhost") or not slash:
        raise ValueError(
            f"{url!r} names no folder on this machine: write file:///absolute/path (or"
            " file://localhost/absolute/path), or file:relative/path for one in the config's"
            " folder"
        )
    return slash + path


# Lone surrogates: half of a UTF-16 pair, which is no character at all. A YAML escape
# ("\\ud800") or an environment variable of bytes that are not UTF-8 (0xFF as U+DCFF) brings
# them into a value, and a title holding one made the HTML pages fail to encode: `syndicate
# export` ended in a traceback. (Control characters are characters: a title keeps its text
# and loses them where a format cannot carry them.)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(value: object) -> str | None:
    """The first lone surrogate, as U+XXXX, in `value`: a text, or
    the texts in a list or the keys and texts of a mapping (a mapping or list inside is a
    model's, checked by that model, with its own line), else None."""
    if isinstance(value, str):
        found = _LONE_SURROGATE.search(value)
        return f"U+{ord(found.group()):04X}" if found else None
    if isinstance(value, dict):
        texts: list[object] = [*value, *(v for v in value.values() if isinstance(v, str))]
    elif isinstance(value, list | tuple):
        texts = [v for v in value if isinstance(v, str)]
    else:
        return None
    return next((c for v in texts if (c := lone_surrogate(v))), None)


# Control characters (C0, DEL, C1): no HTTP header value may hold one, and aiohttp refuses
# a header holding CR or LF, so every request failed.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def check_header_text(value: str) -> str:
    """A value sent in every request's User-Agent header holds no control character."""
    if found := _CONTROL.search(value):
        raise ValueError(
            f"holds U+{ord(found.group()):04X}, a control character, which the User-Agent"
            " header of every request would carry (and every fetch fail); remove it"
        )
    return value


def _check_selector(value: str) -> str:
    compile_selector(value)
    return value


def _check_regex(value: str) -> str:
    compile_pattern(value)  # a ValueError saying why it is not one
    return value


# Texts no two blocks of a page have in common: a `strip_text` pattern found in each of them
# is found in every block of every page.
_UNRELATED_TEXTS = ("The minister said on Monday.", "۱۲۳۴", "Z")


def _found_in(value: str, text: str) -> bool:
    """`value` is found in `text`, within a time limit as every operator pattern is searched
    (a runaway pattern is reported where it runs, not here)."""
    try:
        return compile_pattern(value).search(text, timeout=0.1) is not None
    except TimeoutError:
        return False


def check_strip_text(value: str) -> str:
    if all(_found_in(value, text) for text in _UNRELATED_TEXTS):
        raise ValueError(
            f"{value!r} is found in any text, so every block of every page would be dropped"
            " and no article would keep a body; write what the blocks to drop say, such as"
            " '^Follow us on Telegram'"
        )
    return value


def check_article_links(value: str) -> str:
    if _found_in(value, ""):
        raise ValueError(
            f"{value!r} is found in every link, so a listing page's navigation, section and"
            " about pages would be taken for articles; write what article links hold, such as"
            " '^/Detail/' or '/20\\d\\d/'"
        )
    return value


Selector = Annotated[str, AfterValidator(_check_selector)]


Regex = Annotated[str, AfterValidator(_check_regex)]


def duration_or_never(value: object) -> object:
    """A section's `stale_after`: `never`, or a duration of 1s to LONGEST. Checked as one
    value: as a union of the two, a duration out of bounds was two problems, the second
    saying the value "should be 'never'"."""
    if value is None or value == "never":
        return value
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        if "not a duration" not in str(exc):  # a duration, out of bounds or not finite
            raise
        raise ValueError(f"{exc}, or never (a section not expected to change)") from None
    return _bounded(seconds, 1.0, LONGEST)


def _check_title(value: str) -> str:
    # `title: ""` made the feed `Syndicator: ` and its page headings blank; `title: ~` was
    # already refused as empty.
    if not value.strip():
        raise ValueError("it is empty; write the text readers see as the name")
    # Format characters alone (direction marks, zero-width spaces, a byte-order mark) are
    # not blank to strip(), and the feed's title showed nothing: an article's title of them
    # is published as (untitled).
    if all(char.isspace() or unicodedata.category(char) == "Cf" for char in value):
        first = next(char for char in value if not char.isspace())
        raise ValueError(
            f"it holds nothing to see, only invisible characters (U+{ord(first):04X}); write"
            " the text readers see as the name"
        )
    return directions_closed(value)


# A title or description is published (feeds, OPML, pages): the direction controls it opens
# are closed within it, as an article's title's are. `title: "Ne\u202ews"` left the
# right-to-left override open, and readers showed what followed it (the section's title
# after the service's, the next feed in a list, a date) backwards.
Title = Annotated[str, AfterValidator(_check_title)]
Description = Annotated[str, AfterValidator(directions_closed)]


# The store keeps section and source names in columns of 100 characters: PostgreSQL refused a
# longer one (SQLite kept it), and every article of that section or source with it.
NAME_MAX = 100


# A canonical host, in every article's GUID (a tag: URI the store keeps in 255 characters,
# with the date, the source name and the hash): a longer one made PostgreSQL refuse every
# article of the source. Real hosts are far shorter.
CANONICAL_HOST_MAX = 100
