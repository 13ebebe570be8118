"""What a command loads before it does anything: `syndicate --help`, `--version` and `check`
(run after every edit of the config, and by cron) load no HTTP client, database library or
article extractor; a command loads those only when it runs and needs them. Help and the
version do not build the config model either: they read no config."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import REPO

# What only pulling, serving and the store need: over a second of CPU before any output.
HEAVY = ("aiohttp", "sqlalchemy", "trafilatura")

# What only reading a config needs: building its pydantic model took a third of the CPU of
# `syndicate --help` (0.13 s of 0.37 s).
CONFIG_MODEL = ("pydantic", "syndicator.core.config", "syndicator.core.source_config")

# The command in a fresh interpreter, then which of `heavy` it loaded, on the last line of
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


def loaded_by(*args: str, heavy: tuple[str, ...] = HEAVY) -> tuple[int, list[str]]:
    """The exit status of `syndicate ARGS` run in the repository with its default config, and
    which of `heavy` it imported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-c", LOADED.format(heavy=heavy), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    code, loaded = json.loads(done.stderr.splitlines()[-1])
    return code, loaded


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


# Every command of the group, as typed after `syndicate`.
COMMANDS = [
    *(
        [name]
        for name in ("check", "mirrors", "status", "pull", "discover", "export", "serve", "extract")
    ),
    *(["db", name] for name in ("upgrade", "revision", "prune", "check", "backup", "restore")),
]


@pytest.mark.parametrize(
    "args",
    [["--help"], ["--version"], ["db", "--help"], *([*c, "--help"] for c in COMMANDS)],
    ids=" ".join,
)
def test_help_and_version_do_not_build_the_config_model(args: list[str]) -> None:
    code, loaded = loaded_by(*args, heavy=CONFIG_MODEL)
    assert code == 0
    assert loaded == []


def test_a_command_that_reads_the_config_builds_its_model() -> None:
    # The other side: the model is there when a command reads the config.
    _, loaded = loaded_by("check", heavy=CONFIG_MODEL)
    assert loaded == list(CONFIG_MODEL)
