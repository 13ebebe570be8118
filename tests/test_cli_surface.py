"""What a new user meets on the command line, run as real `python -m syndicator` processes:
global options anywhere, the default offline config healthy after its pull, read-only
commands that never create a store, `db revision` that will not write an empty migration,
a pull that says why nothing was fetched, tables that keep their values whole, results on
stdout and logs on stderr, `-v` logging every fetch, a progress bar with a real total.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import pty
import random
import re
import shutil
import signal
import ssl
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
import trustme
import yaml
from aiohttp import web
from click.testing import CliRunner

from syndicator.ops.cli import main
from syndicator.store import migrate

from .conftest import REPO
from .sites import Mirror, Site, free_port

DEADLINE = 60.0
# The three offline mirrors of the default config, as `check` lists them.
SEED_MIRRORS = [
    "file:../seeds/www.presstv.ir",
    "file:../seeds/www.presstv.co.uk",
    "file:../seeds/www.presstv.tv",
]


def command_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a command runs in: this one without SYNDICATOR_* settings and
    COLUMNS, the worktree on PYTHONPATH, then `env`."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    full_env["PYTHONPATH"] = str(REPO)
    full_env.pop("COLUMNS", None)
    full_env.update(env or {})
    return full_env


async def syndicate(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    tty_stderr: bool = False,
    preexec_fn: Callable[[], None] | None = None,
) -> tuple[int, str, str]:
    """`python -m syndicator ARGS`: exit status, stdout, stderr (stderr on a terminal when
    `tty_stderr`, as a person running it sees it); `preexec_fn` runs in the child before
    the command starts."""
    full_env = command_env(env)
    master = slave = -1
    if tty_stderr:
        master, slave = pty.openpty()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "syndicator",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=slave if tty_stderr else asyncio.subprocess.PIPE,
        env=full_env,
        cwd=cwd,
        preexec_fn=preexec_fn,
    )
    if tty_stderr:
        os.close(slave)
        chunks: list[bytes] = []

        def drain() -> None:
            while True:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the process closed the terminal
                    return
                if not data:
                    return
                chunks.append(data)

        reader = asyncio.create_task(asyncio.to_thread(drain))
        stdout, _ = await asyncio.wait_for(proc.communicate(), DEADLINE)
        await reader
        os.close(master)
        stderr = b"".join(chunks)
    else:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), DEADLINE)
    assert proc.returncode is not None
    return proc.returncode, stdout.decode(errors="replace"), stderr.decode(errors="replace")


def syndicate_run(
    *args: str, cwd: Path, stdout: int | IO[str] = subprocess.PIPE, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m syndicator ARGS` run to its end, in the environment of `command_env`:
    its output into `stdout` (read, unless a file or descriptor is given), stderr read."""
    return subprocess.run(
        [sys.executable, "-m", "syndicator", *args],
        cwd=cwd,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=timeout,
        env=command_env(),
    )


def default_config(tmp_path: Path) -> Path:
    """The shipped offline config in a folder of its own: config/ with the seeds beside it,
    so its store (../data/syndicator.db) lands in tmp_path/data."""
    (tmp_path / "config").mkdir()
    config = tmp_path / "config" / "syndicator.yaml"
    shutil.copy(REPO / "config" / "syndicator.yaml", config)
    (tmp_path / "seeds").symlink_to(REPO / "seeds")
    return config


@pytest.fixture(scope="module")
def pulled_default(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped offline config after one `syndicate pull presstv`, which ended with exit
    status 0: pulled once for the tests that only read its store (`status`, `mirrors`).
    The config's path."""
    folder = tmp_path_factory.mktemp("pulled-default")
    config = default_config(folder)
    pulled = syndicate_run("--config", str(config), "pull", "presstv", cwd=folder, timeout=DEADLINE)
    assert pulled.returncode == 0, pulled.stderr
    return config


def site_config(tmp_path: Path, site: Site, extra: str = "") -> Path:
    config = tmp_path / "syndicator.yaml"
    config.write_text(
        site.config_yaml(
            f"sqlite:///{tmp_path / 'store.db'}", sections=("north-africa",), extra=extra
        )
    )
    return config


COMMANDS = [
    ["check"],
    ["status"],
    ["mirrors"],
    ["pull"],
    ["extract"],
    ["discover"],
    ["export"],
    ["serve"],
    ["db", "upgrade"],
    ["db", "revision"],
    ["db", "prune"],
]


async def test_every_command_help_lists_the_global_options(tmp_path: Path) -> None:
    # The installed command, once; then every command through click's own runner, in this
    # process (the same command tree and help, without a second's start-up each).
    code, out, err = await syndicate("export", "--help", cwd=tmp_path)
    assert code == 0, err
    assert "--config PATH" in out and "-v, --verbose" in out, out
    runner = CliRunner()
    for command in COMMANDS:
        result = runner.invoke(main, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)
        assert "--config PATH" in result.output, (command, result.output)
        assert "-v, --verbose" in result.output, (command, result.output)


def test_db_prune_help_names_who_runs_the_retention_job() -> None:
    # `db prune --help` said the serving nodes prune every retention.every: it is the
    # pulling process of `serve` (or one worker of a cluster); web nodes never prune, so an
    # operator reading it expected a cluster of web nodes to keep the store small.
    result = CliRunner().invoke(main, ["db", "prune", "--help"])
    help_text = " ".join(result.output.split())
    assert "serving" not in help_text
    assert "serve's pulling process, or one worker of a cluster" in help_text
    manual = " ".join((REPO / "docs" / "scale-out.md").read_text(encoding="utf-8").split())
    assert "The pulling process of `serve` runs the job every `retention.every`" in manual


async def test_global_options_work_before_and_after_the_command(tmp_path: Path) -> None:
    config = str(default_config(tmp_path))
    before = await syndicate("--config", config, "check", "--json", cwd=tmp_path)
    after = await syndicate("check", "--json", "--config", config, cwd=tmp_path)
    assert before[0] == after[0] == 0, after[2]
    assert json.loads(before[1]) == json.loads(after[1])
    assert json.loads(after[1])["config"] == config
    # After the command it wins over SYNDICATOR_CONFIG, as before it does.
    wrong = str(tmp_path / "nowhere.yaml")
    code, out, _ = await syndicate(
        "check", "--json", "--config", config, cwd=tmp_path, env={"SYNDICATOR_CONFIG": wrong}
    )
    assert code == 0 and json.loads(out)["config"] == config
    # -v after the command: every fetch is logged on stderr.
    code, out, err = await syndicate("pull", "presstv", "--config", config, "-v", cwd=tmp_path)
    assert code == 0, err
    assert err.count("] fetch ") == 6, err


async def test_a_tilde_the_shell_left_in_a_path_option_is_the_home_folder(tmp_path: Path) -> None:
    # The shell expands no ~ after `=` in `--out=~/public/feeds`, nor does systemd in
    # SYNDICATOR_CONFIG=~/..., and the export wrote its feeds into a folder named `~` in
    # the working folder (one `rm -rf ~` away from losing the home folder).
    default_config(tmp_path)
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    (home / "config").symlink_to(tmp_path / "config")
    env = {"HOME": str(home)}
    config = "--config=~/config/syndicator.yaml"
    out_option = "--out=~/public/feeds"
    code, _, err = await syndicate(config, "export", "-q", out_option, cwd=work, env=env)
    assert code == 0, err
    assert (home / "public" / "feeds" / "north-africa.rss").is_file()
    assert list(work.iterdir()) == []
    code, out, err = await syndicate(
        "check", "--json", cwd=work, env={**env, "SYNDICATOR_CONFIG": "~/config/syndicator.yaml"}
    )
    assert code == 0 and json.loads(out)["config"] == str(home / "config" / "syndicator.yaml")
    code, out, err = await syndicate("db", "backup", config, "--", "~/backup.db", cwd=work, env=env)
    assert code == 0 and (home / "backup.db").is_file(), err
    assert list(work.iterdir()) == []


@pytest.mark.parametrize("command", [["check"], ["check", "--json"], ["export", "--out", "f"]])
def test_output_to_a_full_disk_is_one_line_not_a_traceback(
    tmp_path: Path, command: list[str]
) -> None:
    # `syndicate export >> /var/log/feeds.log` with /var/log full: the export did its work,
    # then ended in a traceback from rich's write (and Python's own at exit).
    config = str(default_config(tmp_path))
    with open("/dev/full", "w") as full:
        result = syndicate_run("--config", config, *command, cwd=tmp_path, stdout=full)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    assert "error: cannot write the output: No space left on device" in result.stderr


@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["check"]])
def test_output_to_a_closed_pipe_ends_the_command_as_ls_and_git_end(
    pulled_default: Path, tmp_path: Path, command: list[str]
) -> None:
    # `syndicate status | head -1`: rich and click ended the command with exit status 1,
    # which `set -o pipefail` took for a failure. Killed by SIGPIPE as ls and git are (the
    # shell's status 141), saying nothing.
    config = str(pulled_default)
    reading, writing = os.pipe()
    os.close(reading)  # what reads the output has stopped reading
    try:
        result = syndicate_run("--config", config, *command, cwd=tmp_path, stdout=writing)
    finally:
        os.close(writing)
    assert result.returncode == -signal.SIGPIPE, result.stderr
    assert result.stderr == ""


async def test_default_offline_config_is_healthy_after_its_pull(
    pulled_default: Path, tmp_path: Path
) -> None:
    config = str(pulled_default)
    code, out, err = await syndicate("--config", config, "status", cwd=tmp_path)
    assert code == 0, out + err
    assert "STALE" not in out and "all sections fresh, every last pull ok" in out
    code, out, _ = await syndicate("--config", config, "status", "--json", cwd=tmp_path)
    report = json.loads(out)
    section = report["sections"]["north-africa"]
    assert code == 0 and report["healthy"] is True and report["problems"] == []
    # The sample article is from 2020: old, but the section is not stale (stale_after: never).
    assert section["newest_age"] > 365 * 86400
    assert section["stale"] is False and section["stale_after"] == "never"


async def test_a_stale_after_of_never_is_only_accepted_as_that_word(tmp_path: Path) -> None:
    config = default_config(tmp_path)
    config.write_text(config.read_text().replace("stale_after: never", "stale_after: nevr"))
    code, out, _ = await syndicate("--config", str(config), "check", "--json", cwd=tmp_path)
    assert code == 2
    assert any(p["key"] == "sections.north-africa.stale_after" for p in json.loads(out)["problems"])


@pytest.mark.parametrize("command", [["status"], ["mirrors"], ["status", "--json"]])
async def test_read_only_commands_never_create_a_store(tmp_path: Path, command: list[str]) -> None:
    config = default_config(tmp_path)
    store = tmp_path / "data" / "syndicator.db"
    code, out, err = await syndicate("--config", str(config), *command, cwd=tmp_path)
    assert code == 1
    message = out if "--json" in command else err
    assert f"no store at {store}" in message, message
    assert "Traceback" not in err
    assert not store.exists() and not store.parent.exists()


@pytest.mark.parametrize("command", [["status"], ["pull", "-q"], ["export", "-q"]])
@pytest.mark.parametrize("mistake", ["folder", "file-in-the-way"])
def test_a_store_path_naming_a_folder_or_under_a_file_says_so(
    tmp_path: Path, command: list[str], mistake: str
) -> None:
    # `sqlite:///../data` (the folder, not its file) was "no store at ..." to `status` and
    # "unable to open database file" to `pull`; a file where the store's folder should be
    # was "[Errno 17] File exists".
    config = default_config(tmp_path)
    data = tmp_path / "data"
    if mistake == "folder":
        data.mkdir()
        store, said = "sqlite:///../data", f"{data} is a folder (service.store 'sqlite:///../data')"
    else:
        data.write_text("notes\n")
        store = "sqlite:///../data/syndicator.db"
        said = f"{data} is a file, where service.store '{store}' needs the folder of {data}/"
    text = config.read_text().replace("sqlite:///../data/syndicator.db", store)
    config.write_text(text)
    result = CliRunner().invoke(main, ["--config", str(config), *command])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(f"store error: {said}"), result.stderr
    assert result.stdout == "" and not (tmp_path / "feeds").exists()
    if mistake == "folder":
        assert f"as in sqlite:///{data / 'syndicator.db'}" in " ".join(result.stderr.split())
        assert list(data.iterdir()) == []
    else:
        assert data.read_text() == "notes\n"


# prctl(2) and capabilities(7): what lets root read and write any file whatever its mode.
PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE = 1
CAP_DAC_READ_SEARCH = 2


def as_permissions_bind_a_user() -> None:
    """A `preexec_fn`: the command runs as file permissions bind any user. Run by root (as
    the tests are), it drops root's override of them from the capabilities the command
    gets when it starts; it keeps uid 0, so that it still reaches this Python under /root,
    which another user could not."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def can_write(path: Path) -> bool:
    """Whether a command run with `as_permissions_bind_a_user` may open `path` to write."""
    try:
        probe = subprocess.run(
            [sys.executable, "-c", "import sys; open(sys.argv[1], 'r+b')", str(path)],
            capture_output=True,
            timeout=DEADLINE,
            preexec_fn=as_permissions_bind_a_user,
        )
    except subprocess.SubprocessError:  # the capabilities could not be dropped here
        return True
    return probe.returncode == 0


async def test_status_names_a_store_this_user_cannot_read(tmp_path: Path) -> None:
    config = default_config(tmp_path)
    code, _, err = await syndicate("--config", str(config), "pull", "presstv", cwd=tmp_path)
    assert code == 0, err
    store = tmp_path / "data" / "syndicator.db"
    store.chmod(0)
    try:
        if can_write(store):
            pytest.skip("root's override of file permissions cannot be dropped here")
        code, _, err = await syndicate(
            "--config", str(config), "status", cwd=tmp_path, preexec_fn=as_permissions_bind_a_user
        )
    finally:
        store.chmod(0o644)
    assert code == 1
    # `status` only reads the store: "needs read and write access to the file, and write
    # access to its folder" sent the operator to give it more than it needs.
    assert err.splitlines() == [
        f"store error: {store}: store is unreadable to this user (needs read access to the"
        " file and its folder)"
    ], err


async def test_db_revision_refuses_an_empty_migration(tmp_path: Path) -> None:
    versions = migrate.MIGRATIONS / "versions"
    before = sorted(p.name for p in versions.glob("*.py"))
    code, _, err = await syndicate("db", "revision", "-m", "nothing changed", cwd=tmp_path)
    after = sorted(p.name for p in versions.glob("*.py"))
    for name in set(after) - set(before):  # a failing run must not leave its file behind
        (versions / name).unlink()
    assert after == before
    assert code == 1
    assert "no revision written: the tables in store/schema.py match the newest revision " in err
    assert f"({migrate.code_head()}); change a table first" in err


async def test_pull_and_status_say_every_mirror_is_in_backoff(tmp_path: Path) -> None:
    config = tmp_path / "syndicator.yaml"
    config.write_text(
        "service:\n"
        f'  store: "sqlite:///{tmp_path / "store.db"}"\n'
        "  connect_timeout: 2s\n"
        "sections:\n"
        "  north-africa: {title: North Africa}\n"
        "sources:\n"
        "  news:\n"
        "    title: Example News\n"
        f"    canonical: http://127.0.0.1:{free_port()}\n"
        f"    mirrors: [http://127.0.0.1:{free_port()}]\n"
        "    breaker: {failures: 1, backoff: 1h, jitter: 0}\n"
        "    sections:\n"
        "      north-africa: {feed: /rss/north-africa.xml}\n"
    )
    c = str(config)
    first = await syndicate("--config", c, "pull", "news", "--json", cwd=tmp_path)
    assert first[0] == 1 and "backoff" not in first[1]
    code, out, _ = await syndicate("--config", c, "pull", "news", "--json", cwd=tmp_path)
    second = json.loads(out)
    assert code == 1 and second["fetched"] == 0
    reason = second["errors"][0]
    assert re.fullmatch(
        r"nothing fetched: every mirror is in backoff until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC "
        r"\(http://127\.0\.0\.1:\d+ down until \d\d:\d\d:\d\d, "
        r"http://127\.0\.0\.1:\d+ down until \d\d:\d\d:\d\d\)",
        reason,
    ), reason
    code, out, err = await syndicate("--config", c, "pull", "news", cwd=tmp_path)
    assert code == 1 and "every mirror is in backoff until" in err
    code, out, _ = await syndicate("--config", c, "status", "--json", cwd=tmp_path)
    problems = json.loads(out)["problems"]
    assert f"source news: last pull failed: {reason}" in problems, problems
    assert not any("no mirror answered" in p for p in problems)


def column(table: str, header: str) -> list[str]:
    """The values of one column of a rich table, a wrapped value joined back together."""
    lines = table.splitlines()
    head = next(i for i, line in enumerate(lines) if header in line)
    bars = [m.start() for m in re.finditer("[┃│]", lines[head])]
    index = next(i for i in range(len(bars) - 1) if header in lines[head][bars[i] : bars[i + 1]])
    values: list[str] = []
    for line in lines[head + 1 :]:
        if not line.startswith("│"):
            continue
        cells = line.split("│")[1:-1]
        piece = cells[index].strip()
        first = cells[0].strip()
        if first or not values:  # a new row (its key column is filled) or the first one
            values.append(piece)
        elif piece:
            values[-1] += piece if not values[-1].endswith(",") else " " + piece
    return values


async def test_status_shows_no_stale_limit_for_all_which_it_never_applies(
    pulled_default: Path, tmp_path: Path
) -> None:
    # The `all` row read "newest item 2360d ago, stale after 1d, ok": a limit status never
    # applies to the combined feed (its sections are judged, each by its own), shown as if
    # it were met.
    config = str(pulled_default)
    code, out, err = await syndicate("--config", config, "status", cwd=tmp_path)
    assert code == 0, err
    sections = out.split("┏")[1]  # the sections' table, not the sources' after it
    rows = dict(zip(column(sections, "section"), column(sections, "stale after"), strict=True))
    assert rows == {"north-africa": "never", "all": "-"}, out
    code, out, _ = await syndicate("--config", config, "status", "--json", cwd=tmp_path)
    assert json.loads(out)["sections"]["all"]["stale_after"] is None


async def test_tables_keep_every_mirror_whole_at_80_columns(
    pulled_default: Path, tmp_path: Path
) -> None:
    config = str(pulled_default)  # `check` says the same before the pull as after it
    code, out, err = await syndicate(
        "--config", config, "check", cwd=tmp_path, env={"COLUMNS": "80"}
    )
    assert code == 0, err
    assert "…" not in out, out
    assert max(len(line) for line in out.splitlines() if line[:1] in "┏┃┡│└") <= 80
    # One row for the one entry point; its mirrors each whole, in order, below the table
    # (in its column they were folded over lines).
    assert len([line for line in out.splitlines() if line.startswith("│")]) == 1, out
    lines = out.splitlines()
    start = lines.index("presstv pulls from:")
    assert [line.strip() for line in lines[start + 1 : start + 4]] == SEED_MIRRORS, out
    code, out, _ = await syndicate(
        "--config", config, "mirrors", cwd=tmp_path, env={"COLUMNS": "80"}
    )
    assert code == 0 and "…" not in out, out
    assert column(out, "mirror") == [
        "https://www.presstv.ir",
        "https://www.presstv.co.uk",
        "https://www.presstv.tv",
    ], out
    # Its last good answer as `status` shows its times, an age: it was "12-07 05:54",
    # split over two lines, beside `status`'s "18s ago".
    assert all(re.fullmatch(r"[0-9hms]+ ago", t) for t in column(out, "last ok")), out


async def test_export_prints_results_on_stdout_and_logs_on_stderr(tmp_path: Path) -> None:
    config = str(default_config(tmp_path))
    out_dir = tmp_path / "feeds"
    code, out, err = await syndicate(
        "--config", config, "export", "--out", str(out_dir), "-v", cwd=tmp_path
    )
    assert code == 0, err
    assert "presstv" in out and "│ ok" in out and f"wrote feeds to {out_dir}/" in out
    assert "┃" not in err and "│" not in err  # no table on stderr
    log_lines = [line for line in err.splitlines() if line.strip()]
    assert log_lines and all(re.match(r"\d{4}-\d\d-\d\dT", line) for line in log_lines), err
    assert not any(re.match(r"\d{4}-\d\d-\d\dT", line) for line in out.splitlines())


async def test_progress_bar_counts_up_to_a_real_total(tmp_path: Path) -> None:
    config = str(default_config(tmp_path))
    code, out, err = await syndicate(
        "--config", config, "pull", "presstv", "--json", cwd=tmp_path, tty_stderr=True
    )
    assert code == 0, err
    fetched = json.loads(out)["fetched"]
    shown = re.findall(r"(\d+)/(\S+)", re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", err))
    assert shown, err
    assert all(total.isdigit() for _, total in shown), shown  # never "1/?"
    done, total = shown[-1]
    assert int(done) == int(total) == fetched == 6, shown
    # The count never runs past the total: what is fetched was announced first.
    assert all(int(d) <= int(t) for d, t in shown), shown


async def test_pull_with_a_site_logs_one_line_per_fetch(tmp_path: Path, site: Site) -> None:
    config = str(site_config(tmp_path, site))
    code, out, err = await syndicate(
        "pull", "news", "--json", "-v", "--config", config, cwd=tmp_path
    )
    assert code == 0, err
    report = json.loads(out)
    fetch_lines = [line for line in err.splitlines() if "] fetch " in line]
    assert len(fetch_lines) == report["fetched"] > 3
    requested = sum(len(m.pages_requested()) for m in site.mirrors)
    assert requested == report["fetched"]
    assert all(
        re.search(r"url=http://127\.0\.0\.1:\d+/\S+ status=200 ms=\d+", line)
        for line in fetch_lines
    )


def test_example_presstv_config_is_the_default_source_on_the_real_domains() -> None:
    default = yaml.safe_load((REPO / "config/syndicator.yaml").read_text())
    real = yaml.safe_load((REPO / "config/example-presstv.yaml").read_text())
    assert real["sections"].keys() == default["sections"].keys()
    source, offline = real["sources"]["presstv"], default["sources"]["presstv"]
    assert source["sections"] == offline["sections"]
    assert source["canonical"] == offline["canonical"] == "https://www.presstv.ir"
    assert source["article_links"] == offline["article_links"]
    hosts = [m["host"] for m in offline["mirrors"]]
    assert [m for m in source["mirrors"]] == [h for h in hosts if h != source["canonical"]]
    # Served locally, every link on its pages points at the local server.
    service = real["service"]
    assert service["public_url"] == f"http://{service['listen']}"


def tls_loopback(tmp_path: Path) -> tuple[str, Path, ssl.SSLContext]:
    """A loopback address of a test's own, a server TLS context with a certificate for it,
    and the file of the local CA that issued it (for SSL_CERT_FILE)."""
    rng = random.Random()
    ip = f"127.{rng.randint(100, 250)}.{rng.randint(1, 250)}.{rng.randint(1, 250)}"
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(ip).configure_cert(tls)
    return ip, ca_file, tls


async def test_discover_proposes_https_for_a_mirror_that_answers_both(
    tmp_path: Path, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A loopback address of this test's own, answering plain HTTP on 80 and TLS on 443 (a
    # certificate from a local CA the command is told to trust).
    ip, ca_file, tls = tls_loopback(tmp_path)

    async def page(_request: web.Request) -> web.Response:
        return web.Response(
            text="<html><body><p>A mirror.</p></body></html>", content_type="text/html"
        )

    app = web.Application()
    app.router.add_get("/{tail:.*}", page)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, ip, 80).start()
    await web.TCPSite(runner, ip, 443, ssl_context=tls).start()
    http_only = site.mirrors[2].host  # answers plain HTTP only
    footer = (
        '<div class="alternate-addresses"><p>This site can also be accessed at the '
        f"following alternate addresses:</p>\n<p>{ip}</p>\n<p>{http_only}</p></div>"
    )
    monkeypatch.setattr(Mirror, "_footer", lambda _self: footer)
    try:
        code, out, err = await syndicate(
            "discover",
            site.mirrors[0].origin + "/",
            "--json",
            cwd=tmp_path,
            env={"SSL_CERT_FILE": str(ca_file)},
        )
    finally:
        await runner.cleanup()
    assert code == 0, err
    assert json.loads(out)["mirrors"] == [f"https://{ip}", f"http://{http_only}"]


async def test_a_mirror_written_http_that_sends_every_request_to_https_is_pulled(
    tmp_path: Path,
) -> None:
    # A loopback address of this test's own: plain HTTP on 80 answers every request with a
    # redirect to the same URL over TLS on 443, which serves the sample article's snapshot.
    # Configured as http://, every fetch failed as "redirect to unknown host https://...".
    ip, ca_file, tls = tls_loopback(tmp_path)
    snapshot = REPO / "seeds" / "www.presstv.ir"

    async def upgrade(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(f"https://{ip}{request.path_qs}")

    async def page(request: web.Request) -> web.Response:
        found = snapshot / request.path.strip("/") / "index.html"
        if not found.is_file():
            return web.Response(status=404, text="not found")
        text = found.read_text("utf-8").replace("https://www.presstv.ir", f"https://{ip}")
        return web.Response(text=text, content_type="text/html")

    plain, secure = web.Application(), web.Application()
    plain.router.add_get("/{tail:.*}", upgrade)
    secure.router.add_get("/{tail:.*}", page)
    runners = [web.AppRunner(plain), web.AppRunner(secure)]
    for runner in runners:
        await runner.setup()
    await web.TCPSite(runners[0], ip, 80).start()
    await web.TCPSite(runners[1], ip, 443, ssl_context=tls).start()
    config = tmp_path / "syndicator.yaml"
    config.write_text(
        f'service:\n  store: "sqlite:///{tmp_path}/s.db"\n'
        "sections:\n  north-africa: {title: North Africa}\n"
        f"sources:\n  presstv:\n    title: Press TV\n    canonical: http://{ip}\n"
        '    article_links: "^/Detail/"\n    robots: false\n'
        # The config trusts port 80 of the address, not 443: loopback is allowed to the
        # upgrade as any public address would be.
        "    allow_private_discovered: true\n"
        "    sections:\n      north-africa: {page: /Section/10104}\n",
        encoding="utf-8",
    )
    try:
        code, out, err = await syndicate(
            "--config",
            str(config),
            "pull",
            "presstv",
            "--json",
            cwd=tmp_path,
            env={"SSL_CERT_FILE": str(ca_file)},
        )
    finally:
        for runner in runners:
            await runner.cleanup()
    assert code == 0, out + err
    outcome = json.loads(out)
    assert (outcome["result"], outcome["new"]) == ("ok", 1), outcome


async def test_cluster_nodes_log_their_start_and_stop_as_events_in_the_log_format(
    tmp_path: Path,
) -> None:
    # docs/operating.md: `serve --json` logs JSON lines, every line one event. A worker and a
    # web node said "worker host:pid: pulling 1 sources", "web node serving feeds on ..."
    # and "stopped" as plain lines among the JSON ones, which a journal reader cannot parse,
    # and had no `started` event with the url a web node serves on.
    config = default_config(tmp_path)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATOR_")}
    env["PYTHONPATH"] = str(REPO)
    nodes = {
        role: await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "syndicator",
            "--config",
            str(config),
            "serve",
            "--role",
            role,
            "--json",
            *extra,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=tmp_path,
        )
        for role, extra in (("web", ("--listen", f"127.0.0.1:{port}")), ("worker", ()))
    }
    try:
        ready = False
        for _ in range(int(DEADLINE * 4)):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.25)
                continue
            writer.write(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = await reader.read()
            writer.close()
            await writer.wait_closed()
            if answer.startswith(b"HTTP/1.1 200"):
                ready = True
                break
            await asyncio.sleep(0.25)
    finally:
        for proc in nodes.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        outputs = {
            role: await asyncio.wait_for(proc.communicate(), DEADLINE)
            for role, proc in nodes.items()
        }
    assert ready, outputs
    for role, (_, stderr) in outputs.items():
        assert nodes[role].returncode == 0, stderr
        lines = stderr.decode().splitlines()
        events = [json.loads(line) for line in lines]  # every line one JSON event
        started = [e for e in events if e["event"] == "started"]
        stopped = [e for e in events if e["event"] == "stopped"]
        assert len(started) == 1 and len(stopped) == 1, lines
        assert started[0]["role"] == role == stopped[0]["role"]
        assert started[0]["sources"] == 1 and started[0]["sections"] == 1
        url = f"http://127.0.0.1:{port}/" if role == "web" else None
        assert started[0]["url"] == url, started[0]
