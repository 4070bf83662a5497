"""The sync client takes its next batch from the outbox while the current one is on its way, and
that never changes what goes first: an event, or live data, that arrives meanwhile still goes
before the batch taken ahead; a failed send gives that batch back."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from edge_agent.outbox import Outbox
from edge_agent.sync import CentralUnavailableError
from protocols.sync import Lane
from tests.support.fake_central import FakeCentral

from .test_sync_client import alarm, client_for, readings, rig, sync_until_idle


class DuringFirstSend(httpx.AsyncBaseTransport):
    """A real HTTP transport that adds records to the outbox while the first batch is sent."""

    def __init__(self, outbox: Outbox, *, event: bool = False, live: int = 0) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.outbox = outbox
        self.event = event
        self.live = live
        self.sent = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        if self.sent == 1:
            if self.event:
                await self.outbox.add_event(alarm(99))
            if self.live:
                await self.outbox.add_readings(readings(self.live, start=5000))
                await self.outbox.flush()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def lanes(central: FakeCentral) -> list[tuple[Lane, int]]:
    return [(b.lane, b.record_count()) for b in central.batches()]


async def test_the_next_batch_is_taken_while_one_is_on_its_way(tmp_path: Path) -> None:
    async with rig(tmp_path) as (outbox, central):
        await outbox.add_readings(readings(250, age_s=3600))
        await outbox.flush()
        async with client_for(outbox, central, batch_size=100) as client:
            assert await client.sync_once()
            assert outbox.statistics().in_flight == 100  # taken ahead, waiting for its turn
            await sync_until_idle(client)
        assert lanes(central) == [(Lane.BACKLOG, 100)] * 2 + [(Lane.BACKLOG, 50)]
        assert central.seqs() == list(range(1, 251))
        assert outbox.statistics().in_flight == 0


async def test_an_event_arriving_meanwhile_goes_before_the_batch_taken_ahead(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path) as (outbox, central):
        await outbox.add_readings(readings(250, age_s=3600))
        await outbox.flush()
        transport = DuringFirstSend(outbox, event=True)
        async with client_for(outbox, central, batch_size=100, transport=transport) as client:
            await sync_until_idle(client)
        assert lanes(central) == [
            (Lane.BACKLOG, 100),
            (Lane.EVENTS, 1),
            (Lane.BACKLOG, 100),
            (Lane.BACKLOG, 50),
        ]
        assert central.seqs() == list(range(1, 252))


async def test_live_data_arriving_meanwhile_goes_before_a_backlog_batch_taken_ahead(
    tmp_path: Path,
) -> None:
    async with rig(tmp_path) as (outbox, central):
        await outbox.add_readings(readings(250, age_s=3600))
        await outbox.flush()
        transport = DuringFirstSend(outbox, live=10)
        async with client_for(outbox, central, batch_size=100, transport=transport) as client:
            await sync_until_idle(client)
        assert lanes(central) == [
            (Lane.BACKLOG, 100),
            (Lane.LIVE, 10),
            (Lane.BACKLOG, 100),
            (Lane.BACKLOG, 50),
        ]
        assert central.seqs() == list(range(1, 261))


async def test_a_failed_send_gives_the_batch_taken_ahead_back(tmp_path: Path) -> None:
    async with rig(tmp_path) as (outbox, central):
        await outbox.add_readings(readings(250, age_s=3600))
        await outbox.flush()
        central.state.status_override = 503
        async with client_for(outbox, central, batch_size=100) as client:
            with pytest.raises(CentralUnavailableError, match="503"):
                await client.sync_once()
            assert outbox.statistics().in_flight == 0
            central.state.status_override = None
            await sync_until_idle(client)
        assert central.seqs() == list(range(1, 251))
        assert outbox.statistics().backlog_total == 0
