"""What a command loads before it does anything: `syndicate --help`, `--version` and `check`
(run after every edit of the config, and by cron) load no HTTP client, database library or
article extractor; a command loads those only when it runs and needs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import REPO

# What only pulling, serving and the store need: over a second of CPU before any output.
HEAVY = ("aiohttp", "sqlalchemy", "trafilatura")

# The command in a fresh interpreter, then the heavy packages it loaded, on the last line of
# stderr (stdout is the command's).
LOADED = """
import json, sys
from syndicator.ops.cli import main
try:
    main(sys.argv[1:], prog_name="syndicate")
except SystemExit as stop:
    code = stop.code
else:
    code = 0
sys.stderr.write("\\n" + json.dumps([code, [m for m in {heavy} if m in sys.modules]]) + "\\n")
"""


def loaded_by(*args: str) -> tuple[int, list[str]]:
    """The exit status of `syndicate ARGS` run in the repository with its default config, and
    which of HEAVY it imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-c", LOADED.format(heavy=HEAVY), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    code, heavy = json.loads(done.stderr.splitlines()[-1])
    return code, heavy


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["check"],
        ["check", "--json"],
        ["export", "--help"],
        ["serve", "--help"],
        ["db", "--help"],
    ],
    ids=" ".join,
)
def test_help_version_and_check_load_no_client_database_or_extractor(args: list[str]) -> None:
    code, heavy = loaded_by(*args)
    assert code == 0
    assert heavy == []


def test_a_command_that_reads_the_store_loads_the_database_library() -> None:
    # The other side: what `check` leaves out is loaded when a command needs it.
    _, heavy = loaded_by("mirrors", "--json")
    assert "sqlalchemy" in heavy
