"""The file list an export keeps in its folder (`.syndicator-files`): the names it wrote and the
config it exported. The next export removes the files it no longer writes and the temporary
files a killed export left, and never a file it did not write: only a plain file of a name it
writes, in the folder or a folder of its own reached through no link. A damaged list (not
UTF-8, over 16 MB) names nothing. An export of another config into the same folder is refused."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path

from syndicator.core.errors import ExportError
from syndicator.publish import xmlfeeds
from syndicator.publish.atomic_files import (
    OLD_TEMP_NAME,
    TEMP_NAME,
    holds,
    make_readable,
    write_atomic,
)
from syndicator.publish.rendered import EXTENSIONS

log = logging.getLogger("syndicator.export")

MANIFEST = ".syndicator-files"
# The file list's first line when the export named its config: the config's path, in JSON
# (any byte of a path, a newline included, stays on the line).
_OWNER = "# config: "


def _owner(out: Path) -> str | None:
    """The config whose export wrote `out`, as its file list says; None when no list or
    none is said (an export of an earlier version, or of a caller naming no config)."""
    manifest = out / MANIFEST
    try:
        if not manifest.is_file() or manifest.stat().st_size > MAX_MANIFEST:
            return None
        with manifest.open("rb") as handle:
            first = handle.readline(64 * 1024).decode("utf-8").rstrip("\n")
        if not first.startswith(_OWNER):
            return None
        named = json.loads(first[len(_OWNER) :])
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return named if isinstance(named, str) else None


def owner_of(config: Path, out: Path) -> str:
    """How the file list of `out` names `config` (an absolute path): from the folder, so
    that the two moved or copied together still match."""
    return os.path.relpath(config, os.path.abspath(out))


def _shown(out: Path, owner: str) -> str:
    """A config the file list names, as a path an operator can find (see `owner_of`)."""
    if owner.startswith("<") or os.path.isabs(owner):
        return owner
    return os.path.normpath(os.path.join(os.path.abspath(out), owner))


def check_owner(out: Path, owner: str | None) -> None:
    """An ExportError when an export of another config than `owner` wrote `out`: this one
    would replace its index, OPML list and `all` feed, and remove the feeds of its sections
    as no longer written. Two configs exporting into one folder took turns deleting each
    other's feeds, silently."""
    previous = _owner(out) if owner is not None else None
    if owner is None or previous is None or previous == owner:
        return
    before, now = _shown(out, previous), _shown(out, owner)
    raise ExportError(
        f"{out} holds the feeds an export of {before} wrote: this export of {now} would "
        f"replace its index and remove its sections' feeds; give each config its own --out "
        f"folder (if the config was moved from {before}, remove {out / MANIFEST} first)"
    )


# The file list of an export names a few files per section and archive page: one past this
# size is not one an export wrote, and is not read.
MAX_MANIFEST = 16 * 1024 * 1024
# What this module writes: feeds, pages and the OPML list, the stylesheet, and their
# compressed copies. A line of the file list naming anything else is not one of ours.
_SUFFIXES = sorted(
    {*EXTENSIONS.values(), "html", "xml", xmlfeeds.STYLESHEET_NAME.rpartition(".")[2]}
)
_WRITTEN_NAME = re.compile(
    r"(?:[^/\x00-\x1f\x7f.][^/\x00-\x1f\x7f]*/)*"  # folders, none hidden, no `..`
    r"[^/\x00-\x1f\x7f.][^/\x00-\x1f\x7f]*"
    rf"\.(?:{'|'.join(_SUFFIXES)})(?:\.gz|\.br)?"
)


def previous_files(out: Path) -> list[Path]:
    """The files the previous export into `out` wrote, as its file list names them.

    A list that is damaged (not UTF-8, too large, not a file) names nothing: the files it
    named stay where they are, and this export writes a new list."""
    manifest = out / MANIFEST
    try:
        if not manifest.is_file() or manifest.stat().st_size > MAX_MANIFEST:
            if manifest.exists() or manifest.is_symlink():
                log.warning("ignored the damaged file list %s", manifest)
            return []
        names = manifest.read_bytes().decode("utf-8").splitlines()
    except FileNotFoundError:
        return []
    except UnicodeDecodeError:
        log.warning("ignored the damaged file list %s (not UTF-8)", manifest)
        return []
    # Anything else (the config's line included) is not a name this module writes.
    return [
        out / name
        for name in names
        if not name.startswith(_OWNER) and _WRITTEN_NAME.fullmatch(name)
    ]


def _folder_under(out: Path, folder: Path) -> bool:
    """`folder` is `out` or a folder in it reached through no symbolic link: a file list
    naming `link/feed.rss`, where `link` points elsewhere, must not reach outside `out`."""
    try:
        return folder.resolve() == out.resolve() / folder.relative_to(out)
    except (OSError, RuntimeError, ValueError):
        return False


def plain_file_in(out: Path, path: Path) -> bool:
    """`path` is a plain file (not a link) in `out` or a folder under it."""
    try:
        return path.is_file() and not path.is_symlink() and _folder_under(out, path.parent)
    except OSError:
        return False


def remove_leftovers(out: Path, ours: Iterable[Path]) -> None:
    """Remove the temporary files that exports killed mid-write left in the folders of `ours`
    (the files this export and the previous one write); nothing else."""
    names_in: dict[Path, set[str]] = {}
    for path in ours:
        names_in.setdefault(path.parent, set()).add(path.name)
    removed = 0
    for folder, names in names_in.items():
        if not _folder_under(out, folder):
            continue
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            old = OLD_TEMP_NAME.fullmatch(entry.name)
            if not (TEMP_NAME.fullmatch(entry.name) or (old and old["name"] in names)):
                continue
            if not entry.is_file(follow_symlinks=False):
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed += 1
    if removed:
        log.info(
            "removed %d temporary files an interrupted export left in %s",
            removed,
            out,
            extra={"removed": removed, "out": str(out)},
        )


def forget_old(out: Path, files: dict[Path, bytes], before: list[Path], owner: str | None) -> None:
    """Remove what the previous export wrote and this one did not, then record this one
    (with `owner`, the config exported, when named)."""
    manifest = out / MANIFEST
    written = sorted(path.relative_to(out).as_posix() for path in files)
    for path in sorted(set(before) - set(files), reverse=True):
        if not plain_file_in(out, path):
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        # Folders this export made and emptied go too (archive/, then the section's).
        for folder in (path.parent, path.parent.parent):
            if folder != out and out in folder.parents:
                with contextlib.suppress(OSError):
                    folder.rmdir()
    header = [_OWNER + json.dumps(owner)] if owner is not None else []
    listing = ("\n".join([*header, *written]) + "\n").encode("utf-8")
    if not holds(manifest, listing):
        write_atomic(manifest, listing)
    else:
        make_readable(manifest)
