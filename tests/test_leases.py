"""Source leases on both engines: one holder per source, expiry, renewal and next due time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from syndicator.store import open_store
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


async def test_a_freed_source_waits_for_its_next_due_time(engine_url: str) -> None:
    store = await open_store(engine_url)
    try:
        a, b = Leases(store, "a", timeout=60), Leases(store, "b", timeout=60)
        await a.register(["news"], T0)
        assert await a.claim_due(["news"], 1, T0) == ["news"]
        assert await a.release("news", T0 + timedelta(minutes=10), T0 + timedelta(seconds=5))
        assert await b.claim_due(["news"], 1, T0 + timedelta(minutes=9)) == []
        assert await b.next_due(["news"]) == T0 + timedelta(minutes=10)
        assert await b.claim_due(["news"], 1, T0 + timedelta(minutes=10)) == ["news"]
        # a holder cannot free what it does not hold
        assert not await a.release("news", T0, T0 + timedelta(minutes=10))
    finally:
        await store.close()


async def test_a_dead_holder_loses_its_lease_after_the_timeout(engine_url: str) -> None:
    store = await open_store(engine_url)
    try:
        dead, alive = Leases(store, "dead", timeout=30), Leases(store, "alive", timeout=30)
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
    finally:
        await store.close()
