"""Static export: the bytes the server would serve, written as files for any static host.

Every file is written to a temporary name in the same folder, flushed, then renamed over the
old one, so a reader or a web server never sees half a file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from .feeds import EXTENSIONS, FeedBook
from .render import FORMATS


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


async def write_feeds(book: FeedBook, out: Path) -> list[Path]:
    """Render every section in every format (plus the index page) into `out`."""
    # Render everything first: a failure leaves the folder as it was.
    files: dict[Path, bytes] = {}
    for section in book.section_names():
        for fmt in FORMATS:
            rendered = await book.get(section, fmt)
            files[out / f"{section}.{EXTENSIONS[fmt]}"] = rendered.body
    files[out / "index.html"] = (await book.index_html()).encode("utf-8")
    for path, data in files.items():
        write_atomic(path, data)
    return list(files)
