"""Static export: the bytes the server serves, written as files for any static host or CDN.

The folder mirrors the server's `/feeds/` URL space, so serving it at `{public_url}/feeds/`
gives readers the same URLs and the same bytes:

    index.html, opml.xml
    {section}.rss|atom|json          (+ .gz and .br, the very bytes the server sends compressed)
    {section}/index.html
    {section}/archive/{n}.rss|atom|json

Every file is written to a temporary name in the same folder, flushed, then renamed over the
old one, so a reader or a web server never sees half a file; files are written before those
linking to them (archive pages, section feeds, `all`, pages), so an export stopped mid-way
leaves no link to a file it had not written. The names written are kept in
`.syndicator-files`; the next export removes those it no longer writes (a section taken out
of the config, archive pages retention emptied), and never touches a file it did not write:
only a plain file of a name it writes, in the folder or a folder of its own reached through
no link, is removed, and a damaged list (not UTF-8, over 16 MB) is ignored and written anew.

Temporary names end in `.syndicator-tmp`, so that those an export killed mid-write left
behind are known for what they are: each export removes them from the folders it writes
before writing. It holds a lock on the folder (an flock, released when the process ends,
however it ends) from before it reads the store until its last file is in, so it never takes
the temporary files of another export at work, and never writes documents older than those
of an export that read the store after it did.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import stat
import tempfile
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from syndicator.core.config import ALL_SECTION
from syndicator.core.errors import ExportError
from syndicator.publish import xmlfeeds
from syndicator.publish.documents import FeedBook
from syndicator.publish.render import FORMATS
from syndicator.publish.rendered import EXTENSIONS, RenderedFeed, compressed

log = logging.getLogger("syndicator.export")

# `.{name}.{random}.syndicator-tmp`: the temporary file that becomes `name`.
TEMP_SUFFIX = ".syndicator-tmp"
_TEMP = re.compile(r"\..+\.[a-z0-9_]+" + re.escape(TEMP_SUFFIX))
# Exports before that naming wrote `.{name}.{8 random}.tmp`: such a file is taken for one of
# their leftovers only when `name` is a file an export writes into that folder.
_OLD_TEMP = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp")


# Files and the folders an export makes are readable by all whatever the umask (a cron job's
# 027 would keep them from the web server's user); folders the operator made keep their mode.
FILE_MODE = 0o644
FOLDER_MODE = 0o755


def make_folders(folder: Path) -> list[Path]:
    """Create `folder` and its missing parents, each with FOLDER_MODE; those already there
    are left as they are. The folders made, parents first."""
    missing = []
    step = folder
    while not step.is_dir() and step.parent != step:
        missing.append(step)
        step = step.parent
    made = []
    for step in reversed(missing):
        try:
            step.mkdir()
        except FileExistsError:
            if not step.is_dir():
                raise
            continue  # made meanwhile by someone else: theirs
        os.chmod(step, FOLDER_MODE)
        made.append(step)
    return made


def write_atomic(path: Path, data: bytes) -> None:
    make_folders(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _with_compressed(files: dict[Path, bytes], path: Path, doc: RenderedFeed) -> None:
    files[path] = doc.body
    files[path.with_name(path.name + ".gz")] = doc.gzip
    files[path.with_name(path.name + ".br")] = doc.br


def check_folder(out: Path, owner: str | None = None) -> None:
    """An ExportError when `out` can be no export folder: a file in its way, the folder (or
    its nearest existing parent, where it is to be made) not writable, or an export of
    another config than `owner` wrote it (see `check_owner`). Cheap, and made before the
    pulls, which take minutes, so that a mistyped `--out` is named at once."""
    _nothing_in_the_way([out])
    check_owner(out, owner)
    step = out
    while not step.exists() and step.parent != step:
        step = step.parent
    if not os.access(step, os.W_OK | os.X_OK):
        what = "write into" if step == out else f"create folder {out} in"
        raise ExportError(f"cannot {what} {step}: {_why_not_writable(step)}")


def _why_not_writable(folder: Path) -> str:
    """The system's reason a folder cannot be written: a file system mounted read-only (as
    the kernel remounts a disk it found errors on) is no matter of permissions, and said so
    sent the operator to chmod."""
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return os.strerror(errno.EROFS)
    except OSError:
        pass
    return os.strerror(errno.EACCES)


async def write_feeds(book: FeedBook, out: Path, *, owner: str | None = None) -> list[Path]:
    """Every feed, archive page and HTML page, the index and the OPML list, into `out`; a
    file that already holds the bytes is left alone (an export of unchanged data changes
    nothing, not even a file's time).

    The folder's lock is held from before the store is read until the last file is in: an
    export started while another holds it waits for it to be done (up to LOCK_WAIT seconds,
    then stops, having read nothing), and then reads the store, newer than what the other
    wrote (a cron run that overlapped the one before it ended with an error, and a mail).
    Taken after rendering, the lock let an export that read the store earlier and rendered
    slower write its older documents over a newer export's.

    `owner` names the config exported (its path): the file list records it, and a folder
    another config's export wrote is refused (`check_owner`)."""
    _nothing_in_the_way([out])
    try:
        made = make_folders(out)
    except OSError as exc:
        raise ExportError(f"cannot create folder {out}: {exc.strerror or exc}") from None
    try:
        async with _only_export(out):
            check_owner(out, owner)
            await _never_blank(book, out)
            # Render everything first: a failure leaves the folder as it was.
            files = await _render(book, out)
            # Every folder first: a file in the way of one is found before anything is
            # created or replaced, then the missing folders are made.
            folders = sorted({path.parent for path in files})
            _nothing_in_the_way(folders)
            _write(out, files, folders, owner)
    except BaseException:
        # Nothing written (or a write failed): the folders made for `out` go if still empty.
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return list(files)


async def _never_blank(book: FeedBook, out: Path) -> None:
    """An ExportError when the store never held an article while the folder's feeds, an
    earlier export's, list some: empty feeds would replace them and the archive pages go.

    That store is not the one the feeds came from: a new one made where `service.store`
    now leads (a relative path in SYNDICATOR_STORE is taken from the working folder, which
    is cron's home folder, not the operator's), its every mirror down or seized so far. A
    store that retention emptied has the dates its sections last changed, and is exported."""
    if await book.store.section_changed_at():
        return
    if (await book.store.section_counts()).get(ALL_SECTION, 0):
        return
    published = _published_items(out)
    if published:
        try:
            here = os.getcwd()
        except OSError:  # the working folder was removed
            here = "which is gone"
        raise ExportError(
            f"the store holds no article and never did, while {out} holds the feeds an "
            f"earlier export wrote ({published} items in {ALL_SECTION}.json): they are left "
            f"as they are rather than emptied; check that service.store names the store "
            f"they were exported from (a relative SQLite path in SYNDICATOR_STORE is taken "
            f"from the working folder, {here})"
        )


def _published_items(out: Path) -> int:
    """How many items the `all` JSON Feed an earlier export wrote into `out` lists (0 when
    there is none, or it is none of ours)."""
    path = out / f"{ALL_SECTION}.{EXTENSIONS['json']}"
    if path not in _previous(out) or not _inside(out, path):
        return 0
    try:
        items = json.loads(path.read_bytes()).get("items")
    except (OSError, ValueError, AttributeError):
        return 0
    return len(items) if isinstance(items, list) else 0


async def _render(book: FeedBook, out: Path) -> dict[Path, bytes]:
    """The bytes of every file an export writes into `out`, in the order it writes them."""
    files: dict[Path, bytes] = {}
    # The stylesheet RSS and Atom name, so that a browser shows an exported feed as a page.
    sheet_gz, sheet_br = compressed(xmlfeeds.STYLESHEET)
    files[out / xmlfeeds.STYLESHEET_NAME] = xmlfeeds.STYLESHEET
    files[out / (xmlfeeds.STYLESHEET_NAME + ".gz")] = sheet_gz
    files[out / (xmlfeeds.STYLESHEET_NAME + ".br")] = sheet_br
    # Written in this order, each file before those that link to it, so that an export
    # stopped between two files (killed, a disk full) leaves no link to a file it has not
    # written: the archive pages (each after the older one it links as `prev-archive`), then
    # the section feeds that link the newest page, `all` (the last of `section_names`), the
    # section pages, and the index and OPML list that link them all.
    sections = book.section_names()
    for section in sections:
        for page in await book.archive_pages(section):
            for fmt in FORMATS:
                doc = await book.archive(section, page, fmt)
                path = out / section / "archive" / f"{page}.{EXTENSIONS[fmt]}"
                _with_compressed(files, path, doc)
    for section in sections:
        for fmt in FORMATS:
            doc = await book.get(section, fmt)
            _with_compressed(files, out / f"{section}.{EXTENSIONS[fmt]}", doc)
    last = ("index.html", "opml.xml")
    pages = [name for name in book.page_names() if name not in last]
    for name in [*pages, *last]:
        _with_compressed(files, out / name, await book.page(name))
    return files


def _nothing_in_the_way(folders: Iterable[Path]) -> None:
    """An ExportError naming the first of `folders` that a file (not a folder) stands in the
    way of, the folder itself or one of its parents."""
    for folder in folders:
        for step in (*reversed(folder.parents), folder):
            try:
                in_the_way = step.exists() and not step.is_dir()
            except OSError as exc:  # a name too long, a loop of links
                raise ExportError(f"cannot create folder {folder}: {exc.strerror or exc}") from None
            if in_the_way:
                raise ExportError(f"cannot create folder {folder}: {step} is {_kind_of(step)}")


# What a path that is no folder is, by its mode: /dev/null was "a file".
_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind_of(path: Path) -> str:
    """What `path`, which is no folder, is: a file, else the device, pipe or socket it is."""
    mode = path.stat().st_mode
    return next((kind for test, kind in _KINDS if test(mode)), "a file")


def _write(out: Path, files: dict[Path, bytes], folders: list[Path], owner: str | None) -> None:
    """Make `folders`, tidy `out`, write `files` in their order, then record them (with no
    await between two writes: a cancelled export has written all of them or none)."""
    for folder in folders:
        try:
            make_folders(folder)
        except OSError as exc:
            raise ExportError(f"cannot create folder {folder}: {exc.strerror or exc}") from None
    try:
        before = _previous(out)
        _remove_leftovers(out, [*files, *before, out / MANIFEST])
    except OSError as exc:
        raise ExportError(f"cannot tidy {out}: {exc.strerror or exc}") from None
    for path, data in files.items():
        try:
            if _holds(path, data):
                _readable(path)
                continue
            write_atomic(path, data)
        except OSError as exc:
            raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        _forget_old(out, files, before, owner)
    except OSError as exc:
        raise ExportError(f"cannot update the file list in {out}: {exc.strerror or exc}") from None


def _holds(path: Path, data: bytes) -> bool:
    """The file is there with exactly these bytes."""
    try:
        if path.stat().st_size != len(data):
            return False
        return path.read_bytes() == data
    except OSError:
        return False


def _readable(path: Path) -> None:
    """Give a file left in place (its bytes already right) the mode of a file written: copied
    in under a strict umask it was 0600, and the web server's user could not read it until
    its bytes changed. Never through a link, and a file of another owner stays as it is."""
    with contextlib.suppress(OSError):
        st = path.lstat()
        if stat.S_ISREG(st.st_mode) and st.st_mode & 0o777 != FILE_MODE:
            os.chmod(path, FILE_MODE)


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


# How long an export waits for another one writing into its folder to be done: a cron run
# that overlapped the one before it. Writing takes seconds; an export holding the lock past
# this is stuck, and this one stops rather than wait with it.
LOCK_WAIT = 300.0
_LOCK_POLL = 0.1


@contextlib.asynccontextmanager
async def _only_export(out: Path) -> AsyncIterator[None]:
    """Hold the export lock on `out`, waiting up to LOCK_WAIT seconds for another export
    writing there to be done: an ExportError when it is not."""
    try:
        fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise ExportError(f"cannot open folder {out}: {exc.strerror or exc}") from None
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LOCK_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if loop.time() >= deadline:
                    raise ExportError(
                        f"another export is writing into {out} and was not done within "
                        f"{LOCK_WAIT:g} s: run this one when it is done"
                    ) from None
                await asyncio.sleep(_LOCK_POLL)
        yield
    finally:
        os.close(fd)  # releases the lock


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


def _previous(out: Path) -> list[Path]:
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


def _inside(out: Path, path: Path) -> bool:
    """`path` is a plain file (not a link) in `out` or a folder under it."""
    try:
        return path.is_file() and not path.is_symlink() and _folder_under(out, path.parent)
    except OSError:
        return False


def _remove_leftovers(out: Path, ours: Iterable[Path]) -> None:
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
            old = _OLD_TEMP.fullmatch(entry.name)
            if not (_TEMP.fullmatch(entry.name) or (old and old["name"] in names)):
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


def _forget_old(out: Path, files: dict[Path, bytes], before: list[Path], owner: str | None) -> None:
    """Remove what the previous export wrote and this one did not, then record this one
    (with `owner`, the config exported, when named)."""
    manifest = out / MANIFEST
    written = sorted(path.relative_to(out).as_posix() for path in files)
    for path in sorted(set(before) - set(files), reverse=True):
        if not _inside(out, path):
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
    if not _holds(manifest, listing):
        write_atomic(manifest, listing)
    else:
        _readable(manifest)
