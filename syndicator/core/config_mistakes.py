"""Saying a config's mistakes where the operator fixes them: each of pydantic's validation errors
and each check of several keys turned into a problem at its file, line, column and dotted key,
with the nearest known key when a name is misspelt ("did you mean"), plus the mistakes YAML
itself lets through: duplicate keys, unknown sections named by a rule, a mirror given twice.

Works on the YAML node tree `config_file` composed; reads no file itself. No I/O.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
)

from syndicator.core.config import Config
from syndicator.core.config_model import CrossKeyError
from syndicator.core.errors import Problem
from syndicator.core.yaml_dialect import TAG_NAMES, UNBUILDABLE, ConfigLoader


def unknown_sections(data: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
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


def duplicate_mirrors(
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
KeyIndex = dict[int, dict[str, tuple[yaml.Node, yaml.Node]]]


def _keys_of(mapping: yaml.MappingNode, index: KeyIndex) -> dict[str, tuple[yaml.Node, yaml.Node]]:
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
        except UNBUILDABLE:
            pass
    return str(node.value)


def _node_at(
    node: yaml.Node | None, loc: tuple[str | int, ...], index: KeyIndex
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


def key_node(
    node: yaml.Node | None, loc: tuple[str | int, ...], index: KeyIndex
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


def problem_at(path: Path, mark: yaml.Mark | None, message: str, key: str = "") -> Problem:
    """A problem at a YAML position (marks count from 0, people from 1)."""
    if mark is None:
        return Problem(file=str(path), message=message, key=key)
    return Problem(str(path), message, mark.line + 1, mark.column + 1, key)


def cross_key(data: Any, loc: tuple[str | int, ...], err: Any) -> tuple[str, ...]:
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


def problem_at_key(
    path: Path,
    root: yaml.Node | None,
    loc: tuple[str | int, ...],
    msg: str,
    kind: str,
    index: KeyIndex,
) -> Problem:
    # pydantic ends the location of a bad mapping key (a section's name) with "[key]"; an
    # unknown or non-text key (`~:`) is named by its location alone.
    on_key = kind in ("extra_forbidden", "invalid_key") or loc[-1:] == ("[key]",)
    loc = loc[:-1] if loc[-1:] == ("[key]",) else loc
    node = key_node(root, loc, index) if on_key else _node_at(root, loc, index)
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
    return problem_at(path, node.start_mark if node is not None else None, msg, key)


def _not_text(node: yaml.ScalarNode) -> str:
    """Why a plain value where text is expected is not text, and what to write: YAML reads
    `title: 2026` as a number (and a date, true or nothing likewise), which was refused with
    only "Input should be a valid string"."""
    name = node.tag.rsplit(":", 1)[-1]
    if name == "null":
        return ": it is empty; write the text"
    if name not in TAG_NAMES:
        return ""
    return (
        f": YAML reads {node.value[:40]!r} as {TAG_NAMES[name]}; quote it"
        f' ("{node.value[:40]}") to keep it as text'
    )


def duplicate_keys(
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
                found.append(problem_at(path, knode.start_mark, message, ".".join((*loc, name))))
            else:
                seen[name] = knode
            found += duplicate_keys(vnode, path, (*loc, name), visited)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found += duplicate_keys(item, path, (*loc, str(i)), visited)
    return found
