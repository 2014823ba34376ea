"""Gateway processes started at the same moment each sync the units and services from the
config; the race to insert the same rows must not stop any of them."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from gateway.core.models import Service, Unit
from gateway.core.runtime import build_context, sync_catalogue


async def test_processes_syncing_the_catalogue_at_once_all_start(config):
    contexts = [build_context(config) for _ in range(3)]  # one engine each, as processes have
    try:
        await asyncio.gather(*(sync_catalogue(c) for c in contexts for _ in range(2)))
        async with contexts[0].db.read_session() as s:
            units = (await s.execute(select(func.count()).select_from(Unit))).scalar_one()
            services = (await s.execute(select(func.count()).select_from(Service))).scalar_one()
        assert (units, services) == (len(config.units), len(config.services))
    finally:
        for c in contexts:
            await c.db.dispose()
