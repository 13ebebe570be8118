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
import stat
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from syndicator.core.config import ALL_SECTION
from syndicator.core.errors import ExportError
from syndicator.publish import xmlfeeds
from syndicator.publish.atomic_files import (
    holds,
    make_folders,
    make_readable,
    write_atomic,
)
from syndicator.publish.documents import FeedBook
from syndicator.publish.export_manifest import (
    MANIFEST,
    check_owner,
    forget_old,
    plain_file_in,
    previous_files,
    remove_leftovers,
)
from syndicator.publish.render import FORMATS
from syndicator.publish.rendered import EXTENSIONS, RenderedFeed, compressed

log = logging.getLogger("syndicator.export")


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
    if path not in previous_files(out) or not plain_file_in(out, path):
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
        before = previous_files(out)
        remove_leftovers(out, [*files, *before, out / MANIFEST])
    except OSError as exc:
        raise ExportError(f"cannot tidy {out}: {exc.strerror or exc}") from None
    for path, data in files.items():
        try:
            if holds(path, data):
                make_readable(path)
                continue
            write_atomic(path, data)
        except OSError as exc:
            raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        forget_old(out, files, before, owner)
    except OSError as exc:
        raise ExportError(f"cannot update the file list in {out}: {exc.strerror or exc}") from None


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
