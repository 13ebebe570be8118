"""Reading `syndicator.yaml`: bytes to a `Config`, and every mistake in it said at its file,
line and key. Owns the YAML dialect (plain values read by YAML 1.2's core schema, PyYAML's
safe loader, so no tag builds an object), the limits a config file is held to (size,
nesting, merges), duplicate keys and mirrors, and turning pydantic's validation errors into
problems an operator can act on. The model itself (keys, defaults, bounds) is `config`'s.
It reads the one file it is given and nothing else: no environment, no network.
"""

from __future__ import annotations

import codecs
import difflib
import os
import re
import stat
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, cast, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)

from syndicator.core.config import Config, CrossKeyError
from syndicator.core.errors import ConfigError, Problem


def _unknown_sections(data: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """Sections that a source names but the top-level `sections` does not define."""
    known = (
        set((data.get("sections") or {}).keys())
        if isinstance(data.get("sections"), dict)
        else set()
    )
    # As text: a null key (`~:`) is None, which difflib cannot compare (nor sort among names).
    named = sorted(str(name) for name in known)
    found: list[tuple[tuple[str | int, ...], str]] = []
    sources = data.get("sources")
    if isinstance(sources, dict):
        for sname, source in sources.items():
            if isinstance(source, dict) and isinstance(source.get("sections"), dict):
                for section in source["sections"]:
                    if section not in known:
                        hint = difflib.get_close_matches(str(section), named, n=1)
                        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
                        found.append(
                            (
                                # "[key]", as pydantic ends a key's location: the name is wrong.
                                ("sources", sname, "sections", section, "[key]"),
                                f"unknown section {section!r}{extra}; define it under 'sections'",
                            )
                        )
            rules = source.get("section_rules") if isinstance(source, dict) else None
            for i, rule in enumerate(rules if isinstance(rules, list) else []):
                section = rule.get("section") if isinstance(rule, dict) else None
                if isinstance(section, str) and section not in known:
                    hint = difflib.get_close_matches(section, named, n=1)
                    extra = f" (did you mean {hint[0]!r}?)" if hint else ""
                    found.append(
                        (
                            ("sources", sname, "section_rules", i, "section"),
                            f"unknown section {section!r}{extra}; define it under 'sections'",
                        )
                    )
    return found


def _duplicate_mirrors(
    config: Config, data: dict[str, Any]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Mirrors of one source that are one mirror (`https://h/`, `https://H`, `https://h:443`,
    or a snapshot playing it): each was pulled separately under one health record. The
    canonical listed as a mirror is no mistake: it is then pulled once (Source.pull_from)."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    for name, source in config.sources.items():
        # As the file writes them: a mirror's url, whichever form it is given in.
        written = [
            m.get("url") if isinstance(m, dict) else m
            for m in data["sources"][name].get("mirrors") or []
        ]
        first: dict[str, int] = {}
        for i, mirror in enumerate(source.mirrors):
            j = first.setdefault(mirror.origin, i)
            if j != i:
                found.append(
                    (
                        ("sources", name, "mirrors", i),
                        f"{written[i]!r} is the same mirror as mirrors.{j} ({written[j]!r}):"
                        f" both are {mirror.origin}, which would be pulled twice; list it once",
                    )
                )
    return found


# The keys of each mapping of a file, by name (the first when one is given twice), built when
# an error is first located in that mapping: scanning the mapping for every error made 40,000
# unknown keys take minutes.
_KeyIndex = dict[int, dict[str, tuple[yaml.Node, yaml.Node]]]


def _keys_of(mapping: yaml.MappingNode, index: _KeyIndex) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    keys = index.get(id(mapping))
    if keys is None:
        keys = {}
        loader = ConfigLoader("")
        for knode, vnode in mapping.value:
            keys.setdefault(_key_name(knode, loader), (knode, vnode))
        index[id(mapping)] = keys
    return keys


def _key_name(node: yaml.Node, loader: ConfigLoader) -> str:
    """A mapping key as an error location names it: the key as built, not as written. A
    null key (`~:`, `null:`) is None in pydantic's location, not `~`: it was not found, and
    the error was put on the mapping's first key, a line or more before it."""
    if isinstance(node, yaml.ScalarNode):
        try:
            return str(loader.construct_object(node))
        except _UNBUILDABLE:
            pass
    return str(node.value)


def _node_at(
    node: yaml.Node | None, loc: tuple[str | int, ...], index: _KeyIndex
) -> yaml.Node | None:
    """Walk a composed YAML node along a pydantic error location, as far as it goes."""
    best = node
    for key in loc:
        if isinstance(best, yaml.MappingNode):
            found = _keys_of(best, index).get(str(key))
            if found is None:
                return best
            best = found[1]
        elif isinstance(best, yaml.SequenceNode) and isinstance(key, int):
            if key < len(best.value):
                best = best.value[key]
            else:
                return best
        else:
            return best
    return best


def _key_node(
    node: yaml.Node | None, loc: tuple[str | int, ...], index: _KeyIndex
) -> yaml.Node | None:
    """The node of the last key in `loc` (for 'extra key' errors), else the value node."""
    parent = _node_at(node, loc[:-1], index) if loc else node
    if isinstance(parent, yaml.MappingNode) and loc:
        found = _keys_of(parent, index).get(str(loc[-1]))
        if found is not None:
            return found[0]
    return _node_at(node, loc, index)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (Union, UnionType):  # an optional section such as selectors
        return next((m for a in get_args(annotation) if (m := _model_of(a))), None)
    return None


def _known_keys(loc: tuple[str | int, ...]) -> list[str]:
    """Keys allowed at the mapping that holds `loc[-1]`, for 'did you mean' hints."""
    model: type[BaseModel] | None = Config
    keys = list(loc[:-1])
    while keys and model is not None:
        field = model.model_fields.get(str(keys.pop(0)))
        if field is None:
            return []
        annotation = field.annotation
        if get_origin(annotation) in (dict, list):
            # The next location part is a name or index inside the container.
            model = _model_of(get_args(annotation)[-1])
            if keys:
                keys.pop(0)
            else:
                return []
        else:
            model = _model_of(annotation)
    if model is None:
        return []
    return [k for k in model.model_fields if k != "base_dir"]


def _at(path: Path, mark: yaml.Mark | None, message: str, key: str = "") -> Problem:
    """A problem at a YAML position (marks count from 0, people from 1)."""
    if mark is None:
        return Problem(file=str(path), message=message, key=key)
    return Problem(str(path), message, mark.line + 1, mark.column + 1, key)


def _cross_key(data: Any, loc: tuple[str | int, ...], err: Any) -> tuple[str, ...]:
    """For a CrossKeyError, the key below `loc` to name: the first of its keys the file
    sets (else the first), so that the problem points at a line the operator wrote."""
    error = (err.get("ctx") or {}).get("error")
    if not isinstance(error, CrossKeyError) or not error.keys:
        return ()
    mapping = data
    for key in loc:
        mapping = mapping.get(key) if isinstance(mapping, dict) else None
    for dotted in error.keys:
        value, parts = mapping, tuple(dotted.split("."))
        for part in parts:
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            return parts
    return tuple(error.keys[0].split("."))


def _describe(
    path: Path,
    root: yaml.Node | None,
    loc: tuple[str | int, ...],
    msg: str,
    kind: str,
    index: _KeyIndex,
) -> Problem:
    # pydantic ends the location of a bad mapping key (a section's name) with "[key]"; an
    # unknown or non-text key (`~:`) is named by its location alone.
    on_key = kind in ("extra_forbidden", "invalid_key") or loc[-1:] == ("[key]",)
    loc = loc[:-1] if loc[-1:] == ("[key]",) else loc
    node = _key_node(root, loc, index) if on_key else _node_at(root, loc, index)
    # A key holding a line break or other white space is shown quoted, so that it shows.
    key = ".".join(repr(k) if re.search(r"[^\S ]", str(k)) else str(k) for k in loc)
    key = key or "(top level)"
    if kind == "extra_forbidden":
        hint = difflib.get_close_matches(str(loc[-1]), _known_keys(loc), n=1)
        msg = "unknown key" + (f" (did you mean {hint[0]!r}?)" if hint else "")
    elif kind == "missing":
        msg = "required key is missing"
    elif kind == "string_type" and isinstance(node, yaml.ScalarNode) and node.style is None:
        msg += _not_text(node)
    return _at(path, node.start_mark if node is not None else None, msg, key)


def _not_text(node: yaml.ScalarNode) -> str:
    """Why a plain value where text is expected is not text, and what to write: YAML reads
    `title: 2026` as a number (and a date, true or nothing likewise), which was refused with
    only "Input should be a valid string"."""
    name = node.tag.rsplit(":", 1)[-1]
    if name == "null":
        return ": it is empty; write the text"
    if name not in _TAG_NAMES:
        return ""
    return (
        f": YAML reads {node.value[:40]!r} as {_TAG_NAMES[name]}; quote it"
        f' ("{node.value[:40]}") to keep it as text'
    )


def _duplicate_keys(
    node: yaml.Node | None,
    path: Path,
    loc: tuple[str, ...] = (),
    visited: set[int] | None = None,
) -> list[Problem]:
    """Keys given twice in one mapping: YAML keeps the last silently, so say so.

    A node reached again through an alias is looked at once: nested aliases (a "billion
    laughs" file) would otherwise take exponential time."""
    visited = set() if visited is None else visited
    if id(node) in visited:
        return []
    visited.add(id(node))
    found: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, yaml.Node] = {}
        for knode, vnode in node.value:
            name = str(knode.value)
            if name in seen:
                first = seen[name].start_mark.line + 1
                message = f"key given twice (first on line {first}); only one may stay"
                found.append(_at(path, knode.start_mark, message, ".".join((*loc, name))))
            else:
                seen[name] = knode
            found += _duplicate_keys(vnode, path, (*loc, name), visited)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found += _duplicate_keys(item, path, (*loc, str(i)), visited)
    return found


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


# No config comes near this; a larger file is a wrong path (a log, a database, /dev/zero),
# and reading it whole would take the memory of the process.
MAX_CONFIG_SIZE = 4 * 1024 * 1024


def load_config(path: Path | str) -> Config:
    """Read and validate a config file; raise ConfigError naming file, line and key.

    A regular file is read, or a pipe (`--config <(sops -d config.yaml)`, `--config
    /dev/stdin`); a device such as /dev/zero or a terminal is refused, and so is anything
    larger than MAX_CONFIG_SIZE."""
    path = Path(path)
    try:
        text, piped = _read_config_file(path)
    except FileNotFoundError:
        raise ConfigError([Problem(file=str(path), message="config file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([Problem(file=str(path), message=f"cannot read config: {exc}")]) from None
    return parse_config(text, path, config_folder(path, piped))


def config_folder(path: Path, piped: bool = False) -> Path:
    """Where relative paths in the config read from `path` start: the folder that holds the
    path as given, a link to the file not followed (`/etc/syndicator/syndicator.yaml`, a
    link into a deployment's folder, has its store in /etc/syndicator/, as docker compose
    takes the folder of a linked compose file); the working folder for a pipe with no name.

    The folder itself is resolved (links to folders on the way, `..`): SQLite reads `..`
    in a path as a step back in its text, where the system steps back from where a link
    to a folder led, and the store would be sought where nothing made it."""
    given = Path.cwd() / path
    if given.parts[:2] == ("/", "proc") or given.parent in (Path("/dev"), Path("/dev/fd")):
        # A descriptor's link (/dev/stdin, <(...)'s /dev/fd/N): what it names counts. A
        # pipe with no name resolves to /proc/PID/fd/pipe:[N]: the working folder.
        named = path.resolve()
        return Path.cwd() if piped and named.name.startswith("pipe:[") else named.parent
    return given.parent.resolve()


def parse_config_bytes(data: bytes, path: Path, base_dir: Path | None = None) -> Config:
    """A config's bytes read from elsewhere than a file (`--config -`: standard input), held
    to what `load_config` holds a file to: at most MAX_CONFIG_SIZE, UTF-8 or UTF-16; `path`
    names it in errors, and relative paths in it start in `base_dir`."""
    if len(data) > MAX_CONFIG_SIZE:
        message = f"larger than {MAX_CONFIG_SIZE // 1024**2} MiB, which no config needs"
        raise ConfigError([Problem(file=str(path), message=message)])
    return parse_config(_decode(data, path), path, base_dir)


def _read_config_file(path: Path) -> tuple[str, bool]:
    """The text of `path`, and whether it came through a pipe; a ConfigError when it is
    neither a regular file nor a pipe, or is larger than MAX_CONFIG_SIZE. Opened without
    waiting (a named FIFO's open blocks until a writer comes) and then looked at, so what is
    read is what was looked at. A pipe is then read to its end: a FIFO that no process
    writes to reads as empty, never waits."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        os.close(fd)
        message = "not a regular file or a pipe (a device or folder); give a config file"
        raise ConfigError([Problem(file=str(path), message=message)])
    piped = stat.S_ISFIFO(mode)
    if piped:
        os.set_blocking(fd, True)
    with os.fdopen(fd, "rb") as file:
        data = file.read(MAX_CONFIG_SIZE + 1)
    if len(data) > MAX_CONFIG_SIZE:
        message = f"larger than {MAX_CONFIG_SIZE // 1024**2} MiB, which no config needs"
        raise ConfigError([Problem(file=str(path), message=message)])
    return _decode(data, path), piped


def _decode(data: bytes, path: Path) -> str:
    """The text of a config: UTF-8, or UTF-16 with its byte order mark (YAML allows both,
    and Windows' Notepad saves "Unicode" so). Bytes of another encoding (Latin-1 from an
    older editor) are a ConfigError naming the line and column of the first one."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            message = "not UTF-16 past its byte order mark; save the file as UTF-8"
            raise ConfigError([Problem(file=str(path), message=message)]) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[line_start : exc.start].decode("utf-8", "replace")) + 1
        message = f"not UTF-8 (the byte 0x{data[exc.start]:02X} here); save the file as UTF-8"
        raise ConfigError([Problem(str(path), message, line, column)]) from None


# No config nests deeper than a handful of levels; PyYAML builds its tree by recursion, and a
# file of 5,000 brackets exhausted Python's stack (a traceback, not a line number).
MAX_NESTING = 100
_TAG_NAMES = {"timestamp": "a date", "int": "an integer", "float": "a number", "bool": "a boolean"}


def _check_nesting(text: str, path: Path) -> None:
    """Refuse a file nested deeper than MAX_NESTING, naming where the first such collection
    starts: PyYAML's parser keeps its own stack, so its events are read without recursion."""
    depth = 0
    for event in yaml.parse(text, Loader=ConfigLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_NESTING:
                # Stubs type an event's mark as either of PyYAML's Mark classes (pure or C).
                mark = cast("yaml.Mark | None", event.start_mark)
                message = f"not valid YAML: nested deeper than {MAX_NESTING} levels"
                raise ConfigError([_at(path, mark, message)])
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


# Keys that merge keys (`<<`) may copy in one file. PyYAML copies every merged pair into the
# mapping that merges it, duplicates included, so nested merges multiply: eight levels of ten
# merges, a 1 KB file, copied 10**8 keys (2.5 minutes and 3.4 GB in `check`). A config that
# merges a few defaults into a few dozen mappings copies hundreds.
MAX_MERGED = 100_000
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _check_merges(root: yaml.Node | None, path: Path) -> None:
    """Refuse a file whose merge keys would copy more than MAX_MERGED keys, naming the merge
    where the count passes it, before anything is built. The composed nodes form a graph
    (an alias is the node it names), so each is counted once, children first, without
    recursion: a mapping holds its own keys and those of the mappings it merges."""
    sizes: dict[int, int] = {}
    entered: set[int] = set()
    merged = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)] if root is not None else []
    while stack:
        node, children_done = stack.pop()
        if not children_done:
            if id(node) in entered:
                continue
            entered.add(id(node))
            stack.append((node, True))
            if isinstance(node, yaml.SequenceNode):
                stack.extend((item, False) for item in reversed(node.value))
            elif isinstance(node, yaml.MappingNode):
                stack.extend((n, False) for pair in reversed(node.value) for n in reversed(pair))
            continue
        if not isinstance(node, yaml.MappingNode):
            continue
        size = 0
        for knode, vnode in node.value:
            if knode.tag != _MERGE_TAG:
                size += 1
                continue
            sources = vnode.value if isinstance(vnode, yaml.SequenceNode) else [vnode]
            for source in sources:
                if isinstance(source, yaml.MappingNode):
                    # A mapping merging itself (through an alias) is not counted yet.
                    copied = sizes.get(id(source), len(source.value))
                    size += copied
                    merged += copied
            if merged > MAX_MERGED:
                message = (
                    f"not valid YAML: merge keys (<<) copy more than {MAX_MERGED} keys by this"
                    " one, which no config needs (nested aliases multiply them)"
                )
                raise ConfigError([_at(path, knode.start_mark, message)])
        sizes[id(node)] = size


# What PyYAML raises, without a position, building a value it cannot: a bare ValueError for
# `2026-02-30`; for a tag on a text that is no such value, whatever its code meets first
# (`!!int ''` an IndexError, `!!bool maybe` a KeyError, `!!timestamp yesterday` an
# AttributeError).
_UNBUILDABLE = (ValueError, OverflowError, IndexError, KeyError, AttributeError, TypeError)


def _unreadable_scalar(root: yaml.Node | None) -> tuple[yaml.ScalarNode, Exception] | None:
    """The first value YAML resolves (or is tagged) to a type it then cannot build
    (`2026-02-30` is a date with no such day, an integer of 5,000 digits, `!!int ''`), with
    the error."""
    constructor = ConfigLoader("")
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            try:
                constructor.construct_object(node)
            except _UNBUILDABLE as exc:
                return node, exc
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
        elif isinstance(node, yaml.MappingNode):
            stack.extend(n for pair in reversed(node.value) for n in reversed(pair))
    return None


def _unbuildable(node: yaml.ScalarNode, error: Exception) -> str:
    """Why a value YAML could not build is not one, and what to do about it."""
    name = node.tag.rsplit(":", 1)[-1]
    kind = _TAG_NAMES.get(name, node.tag)
    # Only ValueError says why in words; an IndexError's "string index out of range" would
    # tell an operator nothing.
    why = f" ({error})" if isinstance(error, ValueError | OverflowError) else ""
    implicit = (True, False) if node.style is None else (False, True)
    # Tagged in the file (`!!timestamp 2026-02-30`): quoting would keep the tag.
    text, at = node.start_mark.buffer or "", node.start_mark.pointer
    tagged = text[at : at + 1] == "!"
    if tagged or ConfigLoader("").resolve(yaml.ScalarNode, node.value, implicit) != node.tag:
        return (
            f"not valid YAML: {node.value[:40]!r} is tagged !!{name} but is not {kind}{why};"
            " remove the tag"
        )
    return (
        f"not valid YAML: {node.value[:40]!r} looks like {kind} but is not one{why};"
        " quote it to keep it as text"
    )


_UNKNOWN_TAG = re.compile(r"could not determine a constructor for the tag '([^']+)'")


def _tab_at(mark: object, text: str) -> bool:
    """Whether PyYAML stopped at a tab, which it takes as neither indentation nor, after a
    colon, a separator (an editor indenting with tabs)."""
    index = getattr(mark, "index", None)
    return isinstance(index, int) and text[index : index + 1] == "\t"


def _forbidden_character(path: Path, text: str, exc: yaml.reader.ReaderError) -> Problem:
    """A character YAML allows nowhere (a control character, U+FFFE), named at its line and
    column: PyYAML says only its offset, "in <unicode string>", on a second line."""
    at = exc.position if isinstance(exc.position, int) else 0
    line = text.count("\n", 0, at) + 1
    column = at - (text.rfind("\n", 0, at) + 1) + 1
    # PyYAML gives the character as its code point (the byte, for bytes it decodes itself).
    char = exc.character if isinstance(exc.character, int) else ord(exc.character)
    if char == 0 and text.count("\0") * 3 >= len(text):
        message = (
            "not valid YAML: a NUL character (U+0000) in every other byte, as UTF-16 without"
            " its byte order mark is written; save the file as UTF-8"
        )
    elif char == 0:
        message = (
            "not valid YAML: a NUL character (U+0000) here, which YAML allows nowhere (a file"
            " a crash or a full disk cut short can hold zero bytes); remove it"
        )
    else:
        kind = "a control character" if char < 0xA0 else "no character text holds"
        message = f"not valid YAML: U+{char:04X} here, {kind}, which YAML allows nowhere; remove it"
    return Problem(str(path), message, line, column)


def parse_config(text: str, path: Path, base_dir: Path | None = None) -> Config:
    """Validate a config's text; `path` names it in errors, and its folder (or `base_dir`)
    is where relative paths in it start."""
    try:
        _check_nesting(text, path)
        root = yaml.compose(text, Loader=ConfigLoader)
        _check_merges(root, path)
        data = yaml.load(text, Loader=ConfigLoader)
    except yaml.reader.ReaderError as exc:
        raise ConfigError([_forbidden_character(path, text, exc)]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        context_mark = getattr(exc, "context_mark", None)
        if _tab_at(mark, text):
            problem += " (a tab: YAML indents and separates with spaces; replace it with spaces)"
        elif context == "expected a single document in the stream":
            # PyYAML's own words were "but found another document", the first half missing.
            problem = (
                "a second YAML document starts here; a config is one document: remove this"
                " `---` line, and what follows it if that is another config"
            )
        elif context and problem == "second occurrence" and context_mark is not None:
            problem = f"{context} on line {context_mark.line + 1}, and the second here"
        elif tag := _UNKNOWN_TAG.search(problem):
            # Other tools' configs take `!ENV ${X}` or `!include file.yaml`; this one expands
            # and includes nothing.
            problem += (
                f"; the config reads no {tag[1]} tag: write the value itself (for a service"
                " key, SYNDICATOR_<KEY> in the environment can give it)"
            )
        raise ConfigError([_at(path, mark, f"not valid YAML: {problem}")]) from None
    except _UNBUILDABLE as exc:
        found = _unreadable_scalar(root)
        if found is None:
            raise ConfigError([_at(path, None, f"not valid YAML: {exc}")]) from None
        raise ConfigError([_at(path, found[0].start_mark, _unbuildable(*found))]) from None
    if data is None:
        # No keys at all: an empty file, only comments, or a pipe nobody wrote to.
        message = "the config is empty; it needs 'sections' and 'sources'"
        raise ConfigError([Problem(str(path), message)])
    if not isinstance(data, dict):
        message = "the config must be a mapping with 'sections' and 'sources'"
        raise ConfigError([Problem(str(path), message, 1, 1)])
    problems: list[Problem] = _duplicate_keys(root, path)
    index: _KeyIndex = {}
    try:
        where = base_dir if base_dir is not None else config_folder(path)
        config = Config.model_validate({**data, "base_dir": where})
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            # pydantic adds the union/validator name to locations of wrapped types; drop them.
            loc = tuple(k for k in loc if not (isinstance(k, str) and k.startswith("function-")))
            loc += _cross_key(data, loc, err)
            problems.append(_describe(path, root, loc, err["msg"], err["type"], index))
        config = None
    for loc, msg in _unknown_sections(data):
        problems.append(_describe(path, root, loc, msg, "unknown_section", index))
    for loc, msg in _duplicate_mirrors(config, data) if config is not None else []:
        problems.append(_describe(path, root, loc, msg, "duplicate_mirror", index))
    if problems or config is None:
        # In the file's order, as the operator fixes them: pydantic gives them model by
        # model (cluster before sections), and the checks of several keys come after.
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise ConfigError(problems)
    config._file_text = (str(path), text)
    return config


def key_place(config: Config, *loc: str | int) -> str:
    """Where the config's file sets the key at `loc`, as its errors name it ("c.yaml:12:7: "),
    for a warning about a config that loads (`check` named only the key, and the operator
    searched the file for it); "" for a config read from no text."""
    if config._file_text is None:
        return ""
    name, text = config._file_text
    try:
        root = yaml.compose(text, Loader=ConfigLoader)
    except yaml.YAMLError:
        return ""
    node = _key_node(root, loc, {})
    if node is None:
        return ""
    return f"{name}:{node.start_mark.line + 1}:{node.start_mark.column + 1}: "
