"""Source leases on both engines: one holder per source, expiry, renewal and next due time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from syndicator.store import Store, open_store
from syndicator.store.leases import Leases

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
NAMES = [f"source-{n}" for n in range(12)]


async def test_workers_claiming_at_once_split_the_sources(engine_url: str) -> None:
    stores = [await open_store(engine_url) for _ in range(3)]
    try:
        workers = [Leases(s, f"worker-{k}", timeout=60) for k, s in enumerate(stores)]
        await workers[0].register(NAMES, T0)
        await workers[1].register(NAMES, T0)  # a second registration changes nothing
        claims = await asyncio.gather(*(w.claim_due(NAMES, 5, T0) for w in workers))
        claimed = [name for names in claims for name in names]
        assert sorted(claimed) == sorted(set(claimed)), "a source was claimed twice"
        assert len(claimed) == len(NAMES)
        rows = await workers[0].rows()
        for k, names in enumerate(claims):
            assert len(names) <= 5
            assert {rows[n].holder for n in names} <= {f"worker-{k}"}
        # everything is held: nobody gets anything more
        assert await workers[0].claim_due(NAMES, 5, T0 + timedelta(seconds=1)) == []
    finally:
        for s in stores:
            await s.close()


async def test_a_freed_source_waits_for_its_next_due_time(engine_store: Store) -> None:
    a, b = Leases(engine_store, "a", timeout=60), Leases(engine_store, "b", timeout=60)
    await a.register(["news"], T0)
    assert await a.claim_due(["news"], 1, T0) == ["news"]
    assert await a.release("news", T0 + timedelta(minutes=10), T0 + timedelta(seconds=5))
    assert await b.claim_due(["news"], 1, T0 + timedelta(minutes=9)) == []
    assert await b.next_due(["news"]) == T0 + timedelta(minutes=10)
    assert await b.claim_due(["news"], 1, T0 + timedelta(minutes=10)) == ["news"]
    # a holder cannot free what it does not hold
    assert not await a.release("news", T0, T0 + timedelta(minutes=10))


async def test_a_dead_holder_loses_its_lease_after_the_timeout(engine_store: Store) -> None:
    dead, alive = (
        Leases(engine_store, "dead", timeout=30),
        Leases(engine_store, "alive", timeout=30),
    )
    await dead.register(["news"], T0)
    assert await dead.claim_due(["news"], 1, T0) == ["news"]
    # renewing pushes the expiry on
    assert await dead.renew(["news"], T0 + timedelta(seconds=20)) == {"news"}
    assert await alive.claim_due(["news"], 1, T0 + timedelta(seconds=45)) == []
    # then the holder stops renewing: 30 s after its last renewal the source is free
    assert await alive.claim_due(["news"], 1, T0 + timedelta(seconds=51)) == ["news"]
    assert (await alive.rows())["news"].holder == "alive"
    # the old holder learns it lost the lease when it next renews
    assert await dead.renew(["news"], T0 + timedelta(seconds=52)) == set()


async def test_a_worker_whose_clock_is_behind_leaves_the_times_of_a_worker_in_step_alone(
    engine_store: Store,
) -> None:
    # A worker whose clock ran 50 s behind, within the lease timeout the leases allow for
    # skew, judged the times a worker in step wrote as ahead of any clock and brought them
    # back: it cut the lease the other worker held, which a third worker then took while
    # its holder still pulled, and made a source due before its `every` had passed.
    in_step, behind, third = (Leases(engine_store, name, timeout=60) for name in "abc")
    await in_step.register(["held", "freed"], T0)
    assert await in_step.claim_due(["held", "freed"], 2, T0) == ["freed", "held"]
    due = T0 + timedelta(minutes=10, seconds=20)  # its every (10m) and jitter
    assert await in_step.release("freed", due, T0)
    window = {"held": 630.0, "freed": 630.0}  # every and the jitter window (30s)
    assert await behind.bound(window, T0 - timedelta(seconds=50)) == []
    rows = await third.rows()
    assert rows["freed"].next_due == due
    assert rows["held"].expires_at == T0 + timedelta(seconds=60)
    assert await third.claim_due(["held", "freed"], 2, T0 + timedelta(seconds=30)) == []
    # Times no clock within the lease timeout of this one could have written (a day
    # ahead) are still brought back.
    await in_step.release("held", T0 + timedelta(days=1), T0)
    assert await behind.bound(window, T0 - timedelta(seconds=50)) == ["held"]
    assert (await third.rows())["held"].next_due == T0 + timedelta(seconds=580)
