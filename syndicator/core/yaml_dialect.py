"""The YAML dialect of config files: PyYAML's safe loader (no tag builds an object) reading plain
values by YAML 1.2's core schema, as operators expect (`010` is 10, `no` is text, `1:30` is
text), with dates and merge keys (`<<`) kept; a dumper whose YAML that loader reads back as
written; and the names of YAML's types and errors that messages about a config use.
No I/O.
"""

from __future__ import annotations

import re

import yaml

# The tags PyYAML's own (YAML 1.1) resolvers keep: dates, whose mistakes (`2026-02-30`) are
# named with their line, and merge keys (`<<`), which configs use to share settings.
_KEPT_TAGS = ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:merge")
_INT_TAG = "tag:yaml.org,2002:int"


class ConfigLoader(yaml.SafeLoader):
    """PyYAML's safe loader reading plain values by the YAML 1.2 core schema, as users expect.

    PyYAML reads YAML 1.1: `every: 010` was 8 seconds (octal), `1:30` was 90 (base 60),
    `country: no` was False, and `yes`, `on` and `off` booleans too. Here, as in YAML 1.2, `010`
    is 10 and `0o10` 8, `1:30` and `yes`/`no`/`on`/`off` are text (a true/false setting still
    takes `yes`, `no`, `on` and `off`: the model reads them), booleans are `true` and `false`
    and null is `null`, `~` or nothing. Dates and merge keys (`<<`) are read as before."""


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """An integer of the YAML 1.2 core schema: decimal (leading zeros too), `0o` octal, `0x`
    hexadecimal; no `_`, no base 60, no 1.1 octal (`010`)."""
    text = str(loader.construct_scalar(node))
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text, 10)


ConfigLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag in _KEPT_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# In the order of the YAML 1.2 core schema (an integer is a float by the float pattern too).
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    (_INT_TAG, r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+.0123456789"),
    ),
):
    ConfigLoader.add_implicit_resolver(_tag, re.compile(_pattern), _first)
ConfigLoader.add_constructor(_INT_TAG, _construct_int)


class ConfigDumper(yaml.SafeDumper):
    """Writes config YAML (`discover`'s block) that ConfigLoader reads back as written: a text
    that either YAML 1.1 or 1.2 reads as another type (`1e3`, `0o10`, `yes`) is quoted."""


for _first, _resolvers in ConfigLoader.yaml_implicit_resolvers.items():
    for _tag, _regexp in _resolvers:
        ConfigDumper.add_implicit_resolver(_tag, _regexp, [_first])


TAG_NAMES = {"timestamp": "a date", "int": "an integer", "float": "a number", "bool": "a boolean"}


# What PyYAML raises, without a position, building a value it cannot: a bare ValueError for
# `2026-02-30`; for a tag on a text that is no such value, whatever its code meets first
# (`!!int ''` an IndexError, `!!bool maybe` a KeyError, `!!timestamp yesterday` an
# AttributeError).
UNBUILDABLE = (ValueError, OverflowError, IndexError, KeyError, AttributeError, TypeError)
