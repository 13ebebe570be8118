"""Static export: the bytes the server serves, written as files for any static host or CDN.

The folder mirrors the server's `/feeds/` URL space, so serving it at `{public_url}/feeds/`
gives readers the same URLs and the same bytes:

    index.html, opml.xml
    {section}.rss|atom|json          (+ .gz and .br, the very bytes the server sends compressed)
    {section}/index.html
    {section}/archive/{n}.rss|atom|json

Every file is written to a temporary name in the same folder, flushed, then renamed over the
old one, so a reader or a web server never sees half a file. The names written are kept in
`.syndicator-files`; the next export removes those it no longer writes (a section taken out
of the config, archive pages retention emptied), and never touches a file it did not write.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from syndicator.core.errors import ExportError
from syndicator.publish.documents import EXTENSIONS, FeedBook, RenderedFeed
from syndicator.publish.render import FORMATS


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _with_compressed(files: dict[Path, bytes], path: Path, doc: RenderedFeed) -> None:
    files[path] = doc.body
    files[path.with_name(path.name + ".gz")] = doc.gzip
    files[path.with_name(path.name + ".br")] = doc.br


async def write_feeds(book: FeedBook, out: Path) -> list[Path]:
    """Every feed, archive page and HTML page, the index and the OPML list, into `out`; a
    file that already holds the bytes is left alone (an export of unchanged data changes
    nothing, not even a file's time)."""
    # Render everything first: a failure leaves the folder as it was.
    files: dict[Path, bytes] = {}
    for section in book.section_names():
        for fmt in FORMATS:
            doc = await book.get(section, fmt)
            _with_compressed(files, out / f"{section}.{EXTENSIONS[fmt]}", doc)
            for page in await book.archive_pages(section):
                doc = await book.archive(section, page, fmt)
                path = out / section / "archive" / f"{page}.{EXTENSIONS[fmt]}"
                _with_compressed(files, path, doc)
    for name in book.page_names():
        _with_compressed(files, out / name, await book.page(name))
    # Every folder first: a file in the way of one is found before anything is created or
    # replaced, then the missing folders are made.
    folders = sorted({path.parent for path in files})
    for folder in folders:
        for step in (*reversed(folder.parents), folder):
            if step.exists() and not step.is_dir():
                raise ExportError(f"cannot create folder {folder}: {step} is a file")
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ExportError(f"cannot create folder {folder}: {exc.strerror or exc}") from None
    for path, data in files.items():
        try:
            if _holds(path, data):
                continue
            write_atomic(path, data)
        except OSError as exc:
            raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        _forget_old(out, files)
    except OSError as exc:
        raise ExportError(f"cannot update the file list in {out}: {exc.strerror or exc}") from None
    return list(files)


def _holds(path: Path, data: bytes) -> bool:
    """The file is there with exactly these bytes."""
    try:
        if path.stat().st_size != len(data):
            return False
        return path.read_bytes() == data
    except OSError:
        return False


MANIFEST = ".syndicator-files"


def _forget_old(out: Path, files: dict[Path, bytes]) -> None:
    """Remove what the previous export wrote and this one did not, then record this one."""
    manifest = out / MANIFEST
    written = sorted(path.relative_to(out).as_posix() for path in files)
    try:
        before = manifest.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        before = []
    for name in sorted(set(before) - set(written), reverse=True):
        path = out / name
        if ".." in Path(name).parts or Path(name).is_absolute():
            continue  # not a name this module writes: leave it alone
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        # Folders this export made and emptied go too (archive/, then the section's).
        for folder in (path.parent, path.parent.parent):
            if folder != out and out in folder.parents:
                with contextlib.suppress(OSError):
                    folder.rmdir()
    listing = ("\n".join(written) + "\n").encode("utf-8")
    if not _holds(manifest, listing):
        write_atomic(manifest, listing)
