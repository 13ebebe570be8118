"""Files written whole or not at all: each to a temporary name in its folder, flushed, then
renamed over the old one, so a reader or a web server never sees half a file, and readable by
all whatever the umask. The temporary names are known for what they are, so that those a
process killed mid-write left behind can be found and removed."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from pathlib import Path

# `.{name}.{random}.syndicator-tmp`: the temporary file that becomes `name`.
TEMP_SUFFIX = ".syndicator-tmp"
TEMP_NAME = re.compile(r"\..+\.[a-z0-9_]+" + re.escape(TEMP_SUFFIX))
# Exports before that naming wrote `.{name}.{8 random}.tmp`: such a file is taken for one of
# their leftovers only when `name` is a file an export writes into that folder.
OLD_TEMP_NAME = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp")


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


def holds(path: Path, data: bytes) -> bool:
    """The file is there with exactly these bytes."""
    try:
        if path.stat().st_size != len(data):
            return False
        return path.read_bytes() == data
    except OSError:
        return False


def make_readable(path: Path) -> None:
    """Give a file left in place (its bytes already right) the mode of a file written: copied
    in under a strict umask it was 0600, and the web server's user could not read it until
    its bytes changed. Never through a link, and a file of another owner stays as it is."""
    with contextlib.suppress(OSError):
        st = path.lstat()
        if stat.S_ISREG(st.st_mode) and st.st_mode & 0o777 != FILE_MODE:
            os.chmod(path, FILE_MODE)
