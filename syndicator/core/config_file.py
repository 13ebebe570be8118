"""Reading `syndicator.yaml`: bytes to a `Config`, and every mistake in it said at its file,
line and key. Owns reading the file (its size, its encoding, a folder of files) and the limits
a config file is held to (nesting, merges, tabs, characters YAML refuses), and joins the
problems found into one `ConfigError`. The YAML dialect is `yaml_dialect`'s; turning
pydantic's validation errors, duplicate keys and mirrors into problems at their line is
`config_mistakes`'; the model itself (keys, defaults, bounds) is `config`'s. It reads the
one file it is given and nothing else: no environment, no network.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from pathlib import Path
from typing import cast

import yaml
from pydantic import (
    ValidationError,
)

from syndicator.core.config import Config
from syndicator.core.config_mistakes import (
    KeyIndex,
    cross_key,
    duplicate_keys,
    duplicate_mirrors,
    key_node,
    problem_at,
    problem_at_key,
    unknown_sections,
)
from syndicator.core.errors import ConfigError, Problem
from syndicator.core.yaml_dialect import TAG_NAMES, UNBUILDABLE, ConfigLoader

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
                raise ConfigError([problem_at(path, mark, message)])
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
                raise ConfigError([problem_at(path, knode.start_mark, message)])
        sizes[id(node)] = size


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
            except UNBUILDABLE as exc:
                return node, exc
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
        elif isinstance(node, yaml.MappingNode):
            stack.extend(n for pair in reversed(node.value) for n in reversed(pair))
    return None


def _unbuildable(node: yaml.ScalarNode, error: Exception) -> str:
    """Why a value YAML could not build is not one, and what to do about it."""
    name = node.tag.rsplit(":", 1)[-1]
    kind = TAG_NAMES.get(name, node.tag)
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
        raise ConfigError([problem_at(path, mark, f"not valid YAML: {problem}")]) from None
    except UNBUILDABLE as exc:
        found = _unreadable_scalar(root)
        if found is None:
            raise ConfigError([problem_at(path, None, f"not valid YAML: {exc}")]) from None
        raise ConfigError([problem_at(path, found[0].start_mark, _unbuildable(*found))]) from None
    if data is None:
        # No keys at all: an empty file, only comments, or a pipe nobody wrote to.
        message = "the config is empty; it needs 'sections' and 'sources'"
        raise ConfigError([Problem(str(path), message)])
    if not isinstance(data, dict):
        message = "the config must be a mapping with 'sections' and 'sources'"
        raise ConfigError([Problem(str(path), message, 1, 1)])
    problems: list[Problem] = duplicate_keys(root, path)
    index: KeyIndex = {}
    try:
        where = base_dir if base_dir is not None else config_folder(path)
        config = Config.model_validate({**data, "base_dir": where})
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            # pydantic adds the union/validator name to locations of wrapped types; drop them.
            loc = tuple(k for k in loc if not (isinstance(k, str) and k.startswith("function-")))
            loc += cross_key(data, loc, err)
            problems.append(problem_at_key(path, root, loc, err["msg"], err["type"], index))
        config = None
    for loc, msg in unknown_sections(data):
        problems.append(problem_at_key(path, root, loc, msg, "unknown_section", index))
    for loc, msg in duplicate_mirrors(config, data) if config is not None else []:
        problems.append(problem_at_key(path, root, loc, msg, "duplicate_mirror", index))
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
    node = key_node(root, loc, {})
    if node is None:
        return ""
    return f"{name}:{node.start_mark.line + 1}:{node.start_mark.column + 1}: "
