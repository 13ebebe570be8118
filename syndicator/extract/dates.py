"""Times as publishers write them, read into aware datetimes: one reader for feed entries, JSON
Feeds, page metadata and sitemaps, so an article has the same time whichever of them gave it.

ISO 8601 first (what Atom, JSON Feed, JSON-LD and sitemaps use), then the RFC 822 family of
RSS and meta tags, read by python-dateutil with the zone abbreviations publishers write
(`ZONES`), Spanish and Arabic month names given to it as English ones; dates of Iran's
calendar (Solar Hijri) through jdatetime. Pure: text in, a
datetime or None out.
"""

from __future__ import annotations

import functools
import logging
import re
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo

import jdatetime
from dateutil import parser as dateutil_parser
from dateutil.tz import gettz, tzoffset

from syndicator.core.ingest import too_early

__all__ = ["NO_ZONE", "ZONES", "best_time", "empty_date", "parse_date", "placed"]

log = logging.getLogger("syndicator.extract")


# The zone of a time whose text named none: UTC's offset, and read as UTC, unless the source
# says where its times are (`Source.time_zone`, applied by `placed`). A zone object of its
# own, so that such a time is known for one (`moment.tzinfo is NO_ZONE`).
NO_ZONE = timezone(timedelta(0), "UTC (no zone given)")


def placed(moment: datetime | None, zone: tzinfo | None) -> datetime | None:
    """`moment` in `zone` when its text named no zone (NO_ZONE), else as it is."""
    if moment is None or zone is None or moment.tzinfo is not NO_ZONE:
        return moment
    return moment.replace(tzinfo=zone)


def _h(hours: float) -> int:
    return int(hours * 3600)


# Seconds east of UTC of the zone abbreviations news publishers write in RSS dates and meta
# tags. feedparser and the stdlib know only RFC 822's North American ones and read any other
# as UTC: Press TV's `Tue, 03 Dec 2024 14:05:00 IRST` was published as 14:05 UTC, three and a
# half hours after the fact. An abbreviation names one offset, summer time included (IRDT
# is +04:30 even after Iran dropped summer time in 2022: a server whose zone data says IRDT
# wrote its local time at +04:30). Where one abbreviation has several meanings, the one of
# the region this service is written for, Iran and its neighbours, wins:
#   IST  India (+05:30), not Israel (+02:00) nor Ireland (+01:00): Indian and Pakistani
#        publishers write it; Israeli and Irish ones write numeric offsets;
#   AST  Arabia (+03:00: Saudi Arabia, Iraq, Kuwait, Qatar, Bahrain, Yemen), not the
#        Atlantic (-04:00) that feedparser takes it for;
#   GST  Gulf (+04:00: the Emirates, Oman), not South Georgia (-02:00);
#   BST  British summer time (+01:00), not Bangladesh (+06:00);
#   CST  US Central (-06:00), as feedparser and RFC 822 read it, not China (+08:00).
ZONES: dict[str, int] = {
    "UT": 0,
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "WET": 0,
    # North America (RFC 822's own and feedparser's).
    "EST": _h(-5),
    "EDT": _h(-4),
    "ET": _h(-5),
    "CST": _h(-6),
    "CDT": _h(-5),
    "CT": _h(-6),
    "MST": _h(-7),
    "MDT": _h(-6),
    "MT": _h(-7),
    "PST": _h(-8),
    "PDT": _h(-7),
    "PT": _h(-8),
    "AKST": _h(-9),
    "AKDT": _h(-8),
    "HST": _h(-10),
    # Europe.
    "BST": _h(1),
    "WEST": _h(1),
    "CET": _h(1),
    "CEST": _h(2),
    "MET": _h(1),
    "MEST": _h(2),
    "EET": _h(2),
    "EEST": _h(3),
    "MSK": _h(3),
    "TRT": _h(3),
    # Africa.
    "WAT": _h(1),
    "CAT": _h(2),
    "SAST": _h(2),
    "EAT": _h(3),
    # West Asia.
    "IRST": _h(3.5),
    "IRDT": _h(4.5),
    "AST": _h(3),
    "GST": _h(4),
    "AZT": _h(4),
    "GET": _h(4),
    "AFT": _h(4.5),
    "IDT": _h(3),
    # South and East Asia, Oceania.
    "PKT": _h(5),
    "IST": _h(5.5),
    "NPT": _h(5.75),
    "ICT": _h(7),
    "WIB": _h(7),
    "HKT": _h(8),
    "SGT": _h(8),
    "MYT": _h(8),
    "PHT": _h(8),
    "AWST": _h(8),
    "JST": _h(9),
    "KST": _h(9),
    "AEST": _h(10),
    "AEDT": _h(11),
    "NZST": _h(12),
    "NZDT": _h(13),
}

# Persian (U+06F0...) and Arabic-Indic (U+0660...) digits as ASCII ones, and the direction
# marks right-to-left pages put around a date (LRM, RLM, ALM, embeddings and isolates) away.
_DIGITS = str.maketrans(
    "۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩",
    "01234567890123456789",
    "\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
) | str.maketrans("يك", "یک")  # Arabic yeh and kaf as Persian writes them (دي: دی)
# A written date names its month, or starts with the year (`2024/12/03 14:05`, `2024-12-03
# 14:05:00 IRST`): numbers alone in another order (`03/12/2024`) are read one way in Tehran
# and London and the other in New York, so they are no date here.
_MONTH = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)", re.I)
_YEAR_FIRST = re.compile(r"\d{4}([-/.])\d{1,2}\1\d{1,2}(?!\d)")
# RFC 822 comments, `+0330 (Iran Standard Time)`; but a zone in brackets, `10:15 (GMT+3:30)`,
# `14:05 (IRST)`, is the zone of the time.
_COMMENT = re.compile(r"\([^()]*\)")
_BRACKETED_ZONE = re.compile(r"\(\s*((?:GMT|UTC|UT)?\s*[+-]\d{1,2}(?::?\d{2})?|[A-Za-z]{1,5})\s*\)")


def _unbracketed(found: re.Match[str]) -> str:
    zone = found[1]
    return f" {zone} " if not zone.isalpha() or zone.upper() in ZONES else found[0]


# `GMT+3:30`, `UTC+03:30`: a publisher means three and a half hours east of UTC; dateutil
# reads a zone name before an offset the POSIX way round (west), so the name is dropped.
_UTC_PLUS = re.compile(r"\b(?:GMT|UTC|UT)\s*(?=[+-]\d)", re.I)
# `+330`: an offset of one hour digit written without its leading zero.
_SHORT_OFFSET = re.compile(r"(?<![\d:])([+-])(\d{3})$")
# `+0330 IRST`: an offset says it all, the name after it only confuses dateutil.
_NAME_AFTER_OFFSET = re.compile(r"([+-]\d{1,2}:?\d{2})\s+[A-Za-z]{2,5}$")
# A zone named by its place, as a server's settings name it (`Asia/Tehran`), at the end; and
# RFC 9557's suffix after an offset (`+03:30[Asia/Tehran]`), which the offset makes moot.
_PLACE = re.compile(r"\s*\b([A-Z][A-Za-z]+(?:/[A-Za-z_+-]+)+)$")
_SUFFIX = re.compile(r"(?<=\d)\[[^\]]*\]$")


# Iran's calendar (Solar Hijri): Iranian CMSs write `1402-12-11T12:30:00+03:30` or
# `1402/12/11 12:30` in meta tags and JSON-LD, and `جمعه ۱۱ اسفند ۱۴۰۲ - ۱۲:۳۰` in feeds. No
# web page has a Gregorian year 1300-1429; those are Solar years 1921-2051. Later years are
# not taken for Solar ones: 1430-1470 are this century's years of the Islamic lunar calendar
# (1446 is 2024), which Arabic sites may write.
_SOLAR_YEARS = range(1300, 1430)
_SOLAR_NUMERIC = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?!\d)")
_SOLAR_MONTHS = {name: n for n, name in enumerate(jdatetime.date.j_months_fa, 1)}
_SOLAR_WRITTEN = re.compile(
    r"(\d{1,2})\s+("
    + "|".join(_SOLAR_MONTHS)
    + r")\s+(\d{4})(?:\D+?(\d{1,2}):(\d{2})(?::(\d{2}))?)?"
)
# A Solar date that names no zone is Iran's time, summer time (until 2022) included.
IRAN = gettz("Asia/Tehran")


def _solar(text: str) -> str | None:
    """`text` with its Solar Hijri date as the Gregorian one in ISO 8601 (`1402-12-11T12:30`
    as `2024-03-01T12:30`); None when it has none."""
    if (numeric := _SOLAR_NUMERIC.match(text)) and int(numeric[1]) in _SOLAR_YEARS:
        year, month, day = int(numeric[1]), int(numeric[3]), int(numeric[4])
        rest = text[numeric.end() :]
    elif written := _SOLAR_WRITTEN.search(text):
        year, month, day = int(written[3]), _SOLAR_MONTHS[written[2]], int(written[1])
        hour, minute, second = written[4], written[5], written[6] or "00"
        rest = f"T{int(hour):02}:{minute}:{second}" if hour else ""
    else:
        return None
    if year not in _SOLAR_YEARS:
        return None
    try:
        day_of = jdatetime.date(year, month, day).togregorian()
    except ValueError:
        return None
    return day_of.isoformat() + rest


# A CMS's zero date, written before any time of day: a year of four digits starting with 0,
# or a negative one (PHP's `-0001-11-30T00:00:00+00:00`, `Wed, 30 Nov -0001 00:00:00 +0000`;
# .NET's `Mon, 01 Jan 0001 00:00:00 GMT`; MySQL's `0000-00-00`). dateutil read the year
# 0001 or -0001 as 2001, feedparser PHP's ISO form as 2000-01-01.
_ZERO_YEAR = re.compile(r"(?<![\d+])-?0\d{3}(?!\d)")
_TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}")


def empty_date(text: object) -> bool:
    """Whether `text` is a CMS's zero date: no date at all, whatever a lenient parser makes
    of it."""
    if not isinstance(text, str):
        return False
    clock = _TIME_OF_DAY.search(text)
    return _ZERO_YEAR.search(text[: clock.start()] if clock else text) is not None


# Month names of Spanish, and of Arabic in its three sets (the Egyptian and Gulf one, the
# Levantine and Iraqi one, the Maghrebi one), and the Gregorian months as Persian writes them,
# by the English abbreviation dateutil reads. Matched on the text as `_fold` writes it.
_FOREIGN_MONTHS = {
    "Jan": "enero ene يناير كانون الثاني جانفي ژانویه",
    "Feb": "febrero فبراير شباط فيفري فوریه",
    "Mar": "marzo مارس اذار",
    "Apr": "abril abr ابريل نيسان افريل آوریل",
    "May": "mayo مايو ايار ماي مه",
    "Jun": "junio يونيو يونيه حزيران جوان ژوئن",
    "Jul": "julio يوليو يوليه تموز جويلية ژوئیه",
    "Aug": "agosto ago اغسطس آب اوت",
    "Sep": "septiembre setiembre sept set سبتمبر ايلول سپتامبر",
    "Oct": "octubre اكتوبر تشرين الاول اکتبر",
    "Nov": "noviembre نوفمبر تشرين الثاني نوامبر",
    "Dec": "diciembre dic ديسمبر كانون الاول دسامبر",
}
# Arabic letter forms a date may be written in, as one: alef with hamza or madda as alef
# (أيلول, آذار), the Persian yeh and keheh that `_DIGITS` gave back as Arabic ones, and
# tatweel and harakat away.
_FOLD = str.maketrans("أإآٱیک", "اااايك", "\u0640\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652")


def _fold(text: str) -> str:
    return text.translate(_FOLD)


_MONTH_NAMES = {
    _fold(name): english
    for english, names in _FOREIGN_MONTHS.items()
    for name in re.findall(r"\S+(?: ال\S+)?", names)
}
# Longest names first: the two-word Levantine ones (تشرين الأول) before their first word.
_FOREIGN_MONTH = re.compile(
    r"(?<!\w)("
    + "|".join(re.escape(n) for n in sorted(_MONTH_NAMES, key=len, reverse=True))
    + r")\.?(?!\w)",
    re.I,
)
# Morning and afternoon as Spanish and Arabic write them after a time.
_MERIDIEM = re.compile(r"(?<!\w)(?:(a|p)\.\s?m\.|(ص|صباحا|م|مساء)(?!\w))", re.I)
# Words around a date in Spanish, Arabic and Persian: labels (`Publicado:`, `نشر في`),
# weekdays, `de`, `a las`, `الساعة`. A page in these languages writes the day before the
# month, so `07/12/2026` in such a text is the 7th of December.
_FOREIGN_WORD = re.compile(
    r"(?<![\w])(?:[^\W\d_]*(?=[\u0600-\u06ff])[^\W\d_]+|"
    r"publicado|actualizado|modificado|fecha|de|del|a|las?|hs?|horas?|"
    r"lunes|martes|mi[eé]rcoles|jueves|viernes|s[aá]bado|domingo)(?![\w])"
    # a weekday's abbreviation first (`mar, 08 dic 2026`: not March)
    r"|^(?:lun|mar|mi[eé]|jue|vie|s[aá]b|dom)\.?(?=,)",
    re.I,
)


# A date of the Islamic (lunar) calendar written beside the Gregorian one ("6 ديسمبر 2026 - 15
# جمادى الآخرة 1448 هـ"): it is left out, the Gregorian date says the same day.
_HIJRI = re.compile(
    r"\d{1,2}\s+(?:محرم|صفر|ربيع\s+\S+|جماد[ىي]\s+\S+|رجب|شعبان|رمضان|شوال|ذ[وي]\s+ال\S+)"
    r"\s+\d{4}(?:\s*ه(?!\w))?"
)
# A zone said in words, as the English name of its zone: Greenwich's (بتوقيت غرينتش), Mecca's
# (Arabia, AST), and Tehran's ("hora de Teherán", بتوقيت طهران) by its place name, which
# `_written` reads at the end of the text, as Iran's time has changed over the years.
_ZONE_WORDS = (
    (re.compile(r"(?:بتوقيت\s+)?(?:غرينتش|غرينيتش|جرينتش|جرينيتش)(?!\w)"), "GMT"),
    (re.compile(r"(?:بتوقيت\s+)?مكة(?:\s+المكرمة)?(?!\w)"), "AST"),
)
_TEHRAN = re.compile(r"(?:بتوقيت\s+طهران|\(?hora\s+(?:de\s+)?(?:teher[aá]n|ir[aá]n)\)?)", re.I)


def _in_english(text: str) -> tuple[str, bool]:
    """`text` with a Spanish, Arabic or Persian month name as the English one and the words
    around it away, and whether it is written in one of those languages (day first)."""
    folded = _fold(text)
    if not _FOREIGN_WORD.search(folded) and not _FOREIGN_MONTH.search(folded):
        return text, False
    folded, in_tehran = _TEHRAN.subn(" ", _HIJRI.sub(" ", folded))
    for words, zone in _ZONE_WORDS:
        folded = words.sub(f" {zone} ", folded)
    folded = _FOREIGN_MONTH.sub(lambda m: " " + _MONTH_NAMES[m[1].lower()] + " ", folded)
    folded = _MERIDIEM.sub(
        lambda m: " AM " if (m[1] or "").lower() == "a" or m[2] in ("ص", "صباحا") else " PM ",
        folded,
    )
    folded = _FOREIGN_WORD.sub(" ", folded).replace("،", ",").replace("|", " ")
    folded = " ".join(folded.split()).strip(" ,-:")
    return folded + " Asia/Tehran" if in_tehran else folded, True


class _Zones:
    """dateutil's `tzinfos` hook: a zone name or offset the text gave, as a tzinfo."""

    def __call__(self, name: str | None, offset: int | None) -> tzinfo | None:
        if name is not None:
            known = ZONES.get(name.upper())
            if known is not None:
                return UTC if known == 0 else tzoffset(name, known)
            if offset is not None:
                # `XYZ+0330`: dateutil read the offset the POSIX way round.
                return tzoffset(name, -offset)
            # A zone we do not know (`AT`, `ACWST`) says nothing we can use: the time is
            # read as one that names no zone (the source's `time_zone` places it), never
            # taken for UTC's, which moved an article by hours with nobody told.
            _unknown_zone(name)
            return None
        return None if offset is None else tzoffset(None, offset)


@functools.lru_cache(maxsize=256)
def _unknown_zone(name: str) -> None:
    """Say once that times in zone `name` are read as naming none."""
    log.warning(
        "dates in the time zone %r, which syndicator does not know, are read as dates that "
        "name no zone: in the source's time_zone, else UTC",
        name,
        extra={"zone": name},
    )


_ZONE_OF = _Zones()
# Two days no field of a date has in common: a field the text left out differs between the
# two readings, and such a text is no date (dateutil fills gaps in from its default).
_DEFAULTS = (datetime(2001, 1, 1), datetime(2002, 2, 2))


def _written(text: str) -> datetime | None:
    """An RFC 822 date or one like it (`Tue, 03 Dec 2024 14:05:00 IRST`, `December 3, 2024
    at 2:05 PM`, `2024/12/03 14:05`, `7 de diciembre de 2026`, `٧ كانون الأول ٢٠٢٦`),
    None when it gives no day, month and year."""
    text, day_first = _in_english(text)
    if not (_MONTH.search(text) or _YEAR_FIRST.match(text) or day_first):
        return None
    # `نشر في 2024/12/03`: a date written year first is read year, month, day all the same.
    day_first = day_first and not _YEAR_FIRST.search(text)
    text = _COMMENT.sub(" ", _BRACKETED_ZONE.sub(_unbracketed, text))
    place: tzinfo | None = None
    if (named := _PLACE.search(text)) and (place := gettz(named[1])) is not None:
        text = text[: named.start()]
    text = _NAME_AFTER_OFFSET.sub(r"\1", _SUFFIX.sub("", text.strip()))
    # dateutil takes a zone abbreviation in capitals only.
    text = _SHORT_OFFSET.sub(r"\g<1>0\2", _UTC_PLUS.sub("", text).strip()).upper()
    try:
        first, second = (
            dateutil_parser.parse(text, default=default, tzinfos=_ZONE_OF, dayfirst=day_first)
            for default in _DEFAULTS
        )
    except (ValueError, OverflowError):
        return None
    if first.date() != second.date():
        return None
    return first.replace(tzinfo=place) if place is not None and first.tzinfo is None else first


# A date as Chinese, Japanese and Korean write it, year first with a word after each number
# (`2024年12月3日 14時05分`, `2024년 12월 3일 오후 2:05`), morning and afternoon before the time.
_EAST_ASIAN_DATE = re.compile(r"(\d{4})\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日일]")
_EAST_ASIAN_TIME = re.compile(
    r"(\d{1,2})\s*[時时시]\s*(\d{1,2})\s*[分분](?:\s*(\d{1,2})\s*[秒초])?"
)
_EAST_ASIAN_MERIDIEM = re.compile(r"(오전|오후|午前|午後|上午|下午)\s*(\d{1,2}:\d{2}(?::\d{2})?)")
_MORNING = ("오전", "午前", "上午")


def _east_asian(text: str) -> str:
    """`text` with a Chinese, Japanese or Korean date written as ISO 8601 and its time as
    `14:05` or `2:05 PM`. Read by feedparser instead, `2024年12月3日` was the 1st of the
    month the reader ran in, of that year: a feed's items were dated months off."""
    if text.isascii():
        return text
    text = _EAST_ASIAN_DATE.sub(lambda m: f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}", text)
    text = _EAST_ASIAN_TIME.sub(
        lambda m: f"{m[1]}:{int(m[2]):02d}" + (f":{int(m[3]):02d}" if m[3] else ""), text
    )
    return _EAST_ASIAN_MERIDIEM.sub(lambda m: f"{m[2]} {'AM' if m[1] in _MORNING else 'PM'}", text)


def parse_date(value: object) -> datetime | None:
    """ISO 8601 or RFC 822 text (its digits may be Persian or Arabic-Indic, its date Solar
    Hijri) to an aware datetime, in NO_ZONE (read as UTC) when the text names no zone
    (Iran's time for a Solar date); None for anything else (JSON-LD may give a number, a
    list or an object where a date goes), and for a CMS's empty date (`ingest.EARLIEST`)."""
    if not isinstance(value, str):
        return None
    text = " ".join(value.translate(_DIGITS).split())
    if not text or empty_date(text):
        return None
    text = _east_asian(text)
    naive_zone: tzinfo = NO_ZONE
    if (gregorian := _solar(text)) is not None:
        text, naive_zone = gregorian, IRAN or UTC
    try:
        moment: datetime | None = datetime.fromisoformat(
            text[:-1] + "+00:00" if text[-1] in "Zz" else text
        )
    except ValueError:
        moment = _written(text)
    if moment is None:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=naive_zone)
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return None  # 9999-12-31T23:59:59-14:00 is past the last UTC time Python has
    except ValueError:
        # An offset of a day or more (`-9999`, `+24:00`: a CMS's broken zone field) names no
        # zone, and every use of the time raised: it is no date (one entry's cost its feed).
        return None
    # 0001-01-01 and the like are a CMS saying it has no date: the next source is asked.
    return None if too_early(moment) else moment


def best_time(*candidates: datetime | None) -> datetime | None:
    """The first of `candidates` (the sources of one date, best first) that is not None; when
    it gives only a day (midnight where it was written: `2024-12-03`), the first later one
    with a time of its own on that day. A page's date-only meta tag hid the feed's time:
    every article of a day was published at midnight, tied, hours off."""
    given = [c for c in candidates if c is not None]
    if not given or given[0].time() != time(0):
        return given[0] if given else None
    day = given[0].date()
    return next((c for c in given[1:] if c.date() == day and c.time() != time(0)), given[0])
