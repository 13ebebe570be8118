"""Serving processes: the event loop each one runs on, and several of them sharing one port.

`run_workers` forks N processes that each bind the same HOST:PORT with SO_REUSEPORT, so the
kernel spreads connections over them and the service uses every core. The parent only
supervises: it forwards SIGINT/SIGTERM (stop) and SIGHUP (reload: each process reads the
config again, as a single process does, and so does the parent's `on_reload`), restarts a
process that dies once it has started (`tell_started`: bound, pulling), and gives up
(stopping the others) when one dies before that, as it does when the port cannot be bound,
or keeps dying after it started. Which process does what is for the caller's
`serve_one(index)` to decide: by default `serve` makes the first one the pulling process,
which serves nothing and runs at a lower CPU priority (`lower_priority`), and the others
serve; with `--pull-inline` the first serving process pulls too. Every process stops and
reloads through `stop_and_reload_signals`, and a serving one keeps start-up's objects out of
the garbage collector (`freeze_startup_objects`).

uvloop, when installed (it is a dependency wherever it exists), runs every loop: its loop and
transports cost less per request than asyncio's on the feed hot path.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import math
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any, TypeVar

log = logging.getLogger("syndicator.workers")
T = TypeVar("T")
# What a node of `syndicate serve --role` runs: pulling and serving on this host (all), pulling
# only (worker) or serving only (web); `cluster` runs the worker and web roles.
ROLES = ("all", "worker", "web")
# A process that has started is restarted when it dies (a kill -9, the OOM killer), unless it
# died this many times within RESTART_WINDOW seconds: then it would only die again.
RESTART_LIMIT = 5
RESTART_WINDOW = 60.0
# In a process run_workers started: set once the process serves (see tell_started).
_started: Any = None
# How long after `drain_timeout` a process may take to end once told to stop (close its
# store, send what is left of its WebSub pings, exit) before the supervisor kills it; and
# how often the supervisor looks at its processes meanwhile.
STOP_GRACE = 5.0
SUPERVISE_POLL = 0.2
# The exit status of a service whose stop had to kill a process.
KILLED_AT_STOP = 1


def end_if_not_stopped_within(seconds: float, what: str = "syndicate serve") -> threading.Timer:
    """For a process no supervisor watches (`serve --pull-inline` as one process): ends it,
    status KILLED_AT_STOP, when it still runs `seconds` after its stop began, as the
    supervisor kills its processes. Its drain waited for ever on a thread stuck in a call
    that never returns, or for a store that does not answer. Articles are each stored in
    their own transaction: what it stored stays stored."""

    def end() -> None:
        log.error(
            "%s did not stop within %g s of the stop; ended (what it stored stays stored)",
            what,
            seconds,
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(KILLED_AT_STOP)

    timer = threading.Timer(seconds, end)
    timer.daemon = True  # not waited for by the interpreter's exit: it is what ends a stuck one
    timer.start()
    return timer


def tell_started(_port: int | None = None) -> None:
    """Tell the supervisor this process has started (bound its port, or begun pulling):
    from now on its exit is a crash, restarted, not a failure to start. Outside a process
    run_workers started, nothing to tell."""
    if _started is not None:
        _started.set()


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def run_loop(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on uvloop when it is installed."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(coro)


class Stopped(Exception):
    """A one-shot command was stopped by a signal (`run_stoppable`)."""

    def __init__(self, sig: signal.Signals) -> None:
        super().__init__(sig.name)
        self.signal = sig


def run_stoppable(coro: Coroutine[Any, Any, T]) -> T:
    """`run_loop` for a one-shot command (export): SIGINT or SIGTERM cancels `coro`, which
    closes what it holds on the way out (its own `finally` blocks), then `Stopped` names the
    signal. Without this, asyncio's own SIGINT handling raised KeyboardInterrupt, and its
    cancellation could land in the store's close and leave a traceback.

    Signals arrive between awaits only: code that does not await (writing the files) is
    never cut off half-way."""

    async def guarded() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        caught: list[signal.Signals] = []

        def stop(sig: signal.Signals) -> None:
            if not caught:
                caught.append(sig)
                task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop, sig)
        try:
            return await coro
        except asyncio.CancelledError:
            if not caught:
                raise
            task.uncancel()
            raise Stopped(caught[0]) from None
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    if threading.current_thread() is not threading.main_thread():
        # Signals are handled on the main thread only (a command run from a test's thread).
        return run_loop(coro)
    try:
        return run_loop(guarded())
    except KeyboardInterrupt:  # before the loop ran, or after it
        raise Stopped(signal.SIGINT) from None


def freeze_startup_objects() -> None:
    """Keep what start-up made (modules, config, the store's engine, about 130,000 objects)
    out of the garbage collector's reach from now on: a full collection walks every tracked
    object and took some 65 ms on this code, a stall for every request waiting on the loop;
    frozen, a serving process's collections see only what it made since."""
    gc.collect()
    gc.freeze()


# glibc's mallopt parameter for the size from which a block is mapped on its own, and what
# a serving process fixes it at (glibc's own starting value).
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024


def tune_malloc() -> bool:
    """Give feed-sized buffers back to the system when they are freed (glibc only; True when
    set). Feeds are rendered and compressed on the event loop's thread pool, and each thread
    has its own malloc arena. glibc raises its mapping threshold to the largest block freed
    (up to 32 MiB), so from the first render on, the 0.3-1.4 MB buffers of a render came from
    the arenas, and every arena kept its largest render's worth of free memory: a serving
    process grew by about 50 MB an hour in a soak, and its arenas held 118 of 153 MB as free
    memory. A fixed threshold also stops glibc raising it. `bench/render_memory.py` shows the
    difference. The operator's own `MALLOC_MMAP_THRESHOLD_` is left to glibc (see cli)."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 (glibc's, not musl's or another libc's)
    except (OSError, AttributeError):
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def lower_priority(niceness: int) -> None:
    """Readers first: `niceness` more than the caller's, and the idle scheduling policy, so
    the process (and every thread it starts) runs on CPU time no serving process wants.

    The nice value alone does not do it: nice weighs processes against each other only
    within one session's group (autogroup), and the scheduler keeps a CPU running a niced
    process busy, placing the serving process and its readers together on the other one.
    Measured with `bench/serve.py --while-pulling` on 2 cores, a pull at nice +10 with the
    batch policy took 73-79% of a core while serving got 63-73%; with the idle policy serving
    keeps 95-100% and the pull takes what is left (it lasts longer: 18 s instead of 11-12 s
    while readers keep both cores busy). Where the idle policy is missing, the batch one.
    """
    os.nice(niceness)
    for policy in ("SCHED_IDLE", "SCHED_BATCH"):
        number = getattr(os, policy, None)
        if number is None:
            continue
        try:
            os.sched_setscheduler(0, number, os.sched_param(0))
        except OSError:
            continue
        return


@contextlib.contextmanager
def stop_and_reload_signals(
    on_stop: Callable[[signal.Signals], object], on_reload: Callable[[], object]
) -> Iterator[None]:
    """Within the block, SIGTERM and SIGINT call `on_stop(sig)` and SIGHUP `on_reload()` on
    the running loop: how every process of `serve` (any role) stops and reloads."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_stop, sig)
    loop.add_signal_handler(signal.SIGHUP, on_reload)
    try:
        yield
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)


# prctl's option for the signal a process gets when its parent ends (Linux).
PR_SET_PDEATHSIG = 1


def stop_with_parent(parent: int) -> bool:
    """Have SIGTERM sent to this process when `parent` (the supervisor that forked it) ends,
    however it ends: killed with SIGKILL (the OOM killer, an operator), its processes went
    on, orphaned, serving the old config on the shared port beside the service started next,
    and pulling too. Linux only (True when set); a parent already gone stops it at once."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:  # it ended before the request was made
        os.kill(os.getpid(), signal.SIGTERM)
    return True


async def unless_stopped(opening: Coroutine[Any, Any, T], stop: asyncio.Event) -> T | None:
    """What `opening` gives, or None when `stop` is set first (it is cancelled then)."""
    task = asyncio.ensure_future(opening)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return None
    return task.result()


def _child(serve_one: Callable[[int], None], index: int, started: Any, parent: int) -> None:
    global _started
    _started = started
    # The parent's handlers were inherited by the fork; the child's own loop sets its own.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # A reload forwarded before the child's loop handles SIGHUP must not kill it: the config
    # it is about to read is the new one anyway.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    stop_with_parent(parent)
    serve_one(index)


def serving_process(index: int) -> str:
    return f"serving process {index}"


def run_workers(
    count: int,
    serve_one: Callable[[int], None],
    on_reload: Callable[[], None] | None = None,
    name: Callable[[int], str] = serving_process,
    stop_timeout: float | None = None,
) -> int:
    """Run `serve_one(i)` for i in 0..count-1, each in its own process, until stopped;
    `on_reload` runs in the parent on SIGHUP, so that a process restarted later starts
    with the config the others run. `name(i)` is how the log names process i (the pulling
    process beside the serving ones is no "serving process 0"). A process still running
    `stop_timeout` seconds after the stop began (a frozen one, one stuck in a call that
    never returns) is killed, as gunicorn's graceful timeout does: without a bound the
    supervisor waited for it for ever.

    Returns the exit status for the whole service: 0 after a clean stop, KILLED_AT_STOP
    when the stop had to kill a process, else the status of the process that failed.
    """
    context = multiprocessing.get_context("fork")
    processes: dict[int, BaseProcess] = {}
    started: dict[int, Any] = {}  # index -> the Event its process sets once it serves
    crashes: dict[int, list[float]] = {}
    stopping = False
    status = 0
    # When the processes still running at a stop are killed.
    kill_at: float | None = None

    def start(index: int) -> None:
        started[index] = event = context.Event()
        process = context.Process(
            target=_child,
            args=(serve_one, index, event, os.getpid()),
            name=f"syndicate-serve-{index}",
        )
        process.start()
        processes[index] = process

    def stop(_signum: int | None = None, _frame: FrameType | None = None) -> None:
        nonlocal stopping, kill_at
        stopping = True
        if kill_at is None and stop_timeout is not None:
            kill_at = time.monotonic() + stop_timeout
        for process in processes.values():
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGTERM)

    def reload(_signum: int | None = None, _frame: FrameType | None = None) -> None:
        if stopping:
            return
        if on_reload is not None:
            on_reload()
        live = [p.pid for p in processes.values() if p.pid is not None and p.is_alive()]
        log.info("SIGHUP: reloading the config in %d processes", len(live))
        for pid in live:
            with contextlib.suppress(ProcessLookupError):  # it exited: the loop below sees to it
                os.kill(pid, signal.SIGHUP)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, reload)
    try:
        for index in range(count):
            start(index)
        while processes:
            # A signal does not end the wait: it is looked at again every SUPERVISE_POLL.
            ready = wait([p.sentinel for p in processes.values()], SUPERVISE_POLL)
            if kill_at is not None and not ready and time.monotonic() >= kill_at:
                for index, process in processes.items():
                    log.error(
                        "%s did not stop within %g s of the stop; killed (what it stored "
                        "stays stored)",
                        name(index),
                        stop_timeout,
                    )
                    if process.pid is not None:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(process.pid, signal.SIGKILL)
                status = status or KILLED_AT_STOP
                kill_at = math.inf  # each is killed once, then reaped below
                continue
            for index, process in list(processes.items()):
                if process.sentinel not in ready:
                    continue
                process.join()
                del processes[index]
                code = process.exitcode or 0
                if stopping:
                    status = status or max(code, 0)
                    continue
                if not started[index].is_set():
                    log.error("%s exited at start (status %d)", name(index), code)
                    status = code if code > 0 else 1
                    stop()
                    continue
                now = time.monotonic()
                recent = [t for t in crashes.get(index, []) if now - t < RESTART_WINDOW]
                crashes[index] = recent = [*recent, now]
                if len(recent) > RESTART_LIMIT:
                    log.error(
                        "%s exited %d times in %d s (status %d); stopping",
                        name(index),
                        len(recent),
                        RESTART_WINDOW,
                        code,
                    )
                    status = code if code > 0 else 1
                    stop()
                    continue
                log.warning("%s exited (status %d); restarting", name(index), code)
                start(index)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status
