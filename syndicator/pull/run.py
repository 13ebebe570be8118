"""One pull of one source, written down: timed, classified (ok, partial, failed, cancelled),
logged as one structured event with its counts and duration, and recorded in the store so
`syndicate status`, `/readyz` and the next start of the service know how it went.

Wraps the pipeline; it never fetches or extracts anything itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from syndicator.core.config import Config
from syndicator.core.errors import StoreError, StoreFull, SyndicatorError
from syndicator.core.source_config import source_sections
from syndicator.pull.fetch import Fetcher
from syndicator.pull.pipeline import ProgressHook, PullReport, SourcePull
from syndicator.store import Store
from syndicator.store.connect import DISK_FULL
from syndicator.store.pulls import PullRecord, record_pull

log = logging.getLogger("syndicator.pull")

RESULTS = ("ok", "partial", "failed", "cancelled")
# How long the record of a pull a stop cut off may wait for the store. The stop is bounded
# (drain_timeout, then 5 s before the process is killed): a store that did not answer held
# the record for its whole command_timeout (30 s), and the process was killed with the
# record neither written nor said to be lost. The PostgreSQL connection given up on has at
# most 1 s more to close (`store.postgres_pool`): settled within 4 s.
CANCELLED_RECORD_TIMEOUT = 2.0
# How long the record of a pull that crashed (a bug) may wait for the store, the crash then
# raised on: it waited the store's command timeout (30 s by default), and the time to open a
# connection after it, holding the traceback back; a store that stopped answering is often
# what the crash met.
CRASHED_RECORD_TIMEOUT = CANCELLED_RECORD_TIMEOUT


@dataclass(frozen=True)
class PullOutcome:
    source: str
    result: str
    report: PullReport
    started_at: datetime
    duration: float
    sections: tuple[str, ...]

    @property
    def error(self) -> str | None:
        return self.report.errors[0] if self.report.errors else None

    @property
    def store_full(self) -> bool:
        """The disk that holds the store filled during the pull: a failure of the command,
        even when the pull stored articles before (partial)."""
        return any(DISK_FULL in e for e in self.report.errors)

    def record(self) -> PullRecord:
        r = self.report
        return PullRecord(
            source=self.source,
            started_at=self.started_at,
            finished_at=datetime.fromtimestamp(self.started_at.timestamp() + self.duration, tz=UTC),
            result=self.result,
            new=r.new,
            updated=r.updated,
            duplicate=r.duplicate,
            failed=r.failed,
            fetched=r.fetched,
            sections=self.sections,
            error=self.error,
        )


def result_of(report: PullReport) -> str:
    """ok: nothing failed; partial: something failed but an entry point answered; failed:
    no entry point answered on any mirror."""
    if report.entry_points_ok == 0:
        return "failed"
    return "partial" if report.failed else "ok"


def log_outcome(outcome: PullOutcome) -> None:
    r = outcome.report
    level = logging.INFO if outcome.result == "ok" else logging.WARNING
    fields = {
        "source": outcome.source,
        "result": outcome.result,
        "new": r.new,
        "updated": r.updated,
        "duplicate": r.duplicate,
        "failed": r.failed,
        "fetched": r.fetched,
        "duration_s": round(outcome.duration, 3),
    }
    if r.hedged:
        fields["hedged"] = r.hedged  # articles that did not wait for a slow mirror
    if r.relinked:
        fields["relinked"] = r.relinked  # stored links repaired (see docs/mirrors.md)
    if outcome.error:
        fields["error"] = outcome.error
    log.log(level, "pull", extra=fields)


async def run_pull(
    name: str,
    config: Config,
    fetcher: Fetcher,
    store: Store,
    *,
    progress: ProgressHook | None = None,
    observe: Callable[[PullOutcome], None] | None = None,
) -> PullOutcome:
    """Pull one source once, then log and record how it went.

    A cancelled pull is recorded as `cancelled` with what it had stored so far (given
    CANCELLED_RECORD_TIMEOUT, then logged as not recorded), and the cancellation goes on;
    one that crashes (a bug) as `failed`, naming the exception (given
    CRASHED_RECORD_TIMEOUT), which goes on too. A full
    disk ends the pull's storing at its first refused write, with one error. A store that
    cannot take the record (a full disk again) is logged, never raised: the articles are
    stored already.
    """
    source = config.sources[name]
    pull = SourcePull(name, source, config, fetcher, store, progress)
    # The sections this pull can fill: its entry points, and those its section rules reach.
    sections = source_sections(source)
    started_at = datetime.now(UTC)
    started = time.monotonic()

    def finish(result: str) -> PullOutcome:
        outcome = PullOutcome(
            name, result, pull.report, started_at, time.monotonic() - started, sections
        )
        if observe is not None:
            observe(outcome)
        log_outcome(outcome)
        return outcome

    try:
        report = await pull.run()
    except asyncio.CancelledError:
        await _record(store, finish("cancelled"), CANCELLED_RECORD_TIMEOUT)
        raise
    except StoreFull as exc:
        # One error for the pull, not one for each article after it: partial when it
        # stored articles before the disk filled, else failed.
        pull.report.fail(str(exc))
        report = pull.report
        if not (report.new or report.updated or report.duplicate):
            report.entry_points_ok = 0
    except SyndicatorError as exc:
        pull.report.fail(str(exc))
        report = pull.report
        report.entry_points_ok = 0
    except Exception as exc:
        # A bug: recorded as a failed pull, so `status` and /readyz do not go on showing
        # the good pull before it as the last, then raised on for its traceback.
        crash = f"pull crashed: {type(exc).__name__}: {exc}"
        pull.report.fail(crash)
        # The pull's error, whatever failed before it.
        pull.report.errors = [crash, *(e for e in pull.report.errors if e != crash)]
        pull.report.entry_points_ok = 0
        await _record(store, finish("failed"), CRASHED_RECORD_TIMEOUT)
        raise
    outcome = finish(result_of(report))
    await _record(store, outcome)
    return outcome


async def _record(store: Store, outcome: PullOutcome, timeout: float | None = None) -> None:
    """Record the pull, given at most `timeout` seconds; a record the store refused or did
    not take in time is logged as lost."""
    try:
        async with asyncio.timeout(timeout):
            await record_pull(store, outcome.record())
    except StoreError as exc:
        log.warning("pull not recorded", extra={"source": outcome.source, "error": str(exc)})
    except TimeoutError:
        log.warning(
            "pull not recorded",
            extra={
                "source": outcome.source,
                "result": outcome.result,
                "error": f"the store did not answer within {timeout:g} s",
            },
        )
