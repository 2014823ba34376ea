"""Build and tear down a :class:`GatewayContext` for one process.

``open_context`` wires the database, file store, templates, signer, sender registry,
intake writer, dispatcher and state store, and syncs units and services from the config
into the database.  Channels register their senders afterwards (the CLI composes them).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.core.blobs import make_blob_store
from gateway.core.config import Config
from gateway.core.context import GatewayContext
from gateway.core.db import Database
from gateway.core.dispatcher import Dispatcher
from gateway.core.first_stats import keep_first_stats
from gateway.core.intake.writer import IntakeWriter
from gateway.core.leases import Leases
from gateway.core.limits import make_limiter
from gateway.core.models import Service, Unit
from gateway.core.ports import Addresses, IntakeServices
from gateway.core.security import SECRET_STATE_KEY, Signer, env_secret_key, new_secret_key
from gateway.core.senders import FileSender, SenderRegistry
from gateway.core.state import StateStore
from gateway.core.store import FileStore
from gateway.core.templates import Templates


def build_context(config: Config, db: Database | None = None, instance: str | None = None) -> GatewayContext:
    """Create the context objects (no IO; the signing key comes from the environment here
    or from the database in :func:`load_signing_key`).  ``instance`` names the lease
    holder (``gateway run`` passes its stable name); without one, the configured name or
    a unique one for this object, so contexts in one process never share leases."""
    data = config.data_dir
    db = db or Database(config.database_url)
    signer = Signer(env_secret_key(config.gateway.secret_key_env))
    senders = SenderRegistry(fallback=FileSender(data / "outbox"))
    store = make_blob_store(config.gateway.blob_store, db, FileStore(data / "files"))
    templates = Templates(config.templates, config.gateway.timezone)
    addresses = Addresses(
        signer, config.email.message_id_domain, config.gateway.public_base_url, config.gateway.language
    )
    name = (
        instance
        or os.environ.get("GATEWAY_INSTANCE_NAME")
        or config.gateway.instance_name
        or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
    )
    leases = Leases(db, name, config.gateway.lease_seconds)
    dispatcher = Dispatcher(db, senders, config.outbox, name=name, leases=leases)
    intake = IntakeWriter(db, IntakeServices(config, templates, addresses, store), dispatcher.wake)
    limiter = make_limiter(db, config.limits.backend, config.secret(config.limits.redis_url_env))
    return GatewayContext(
        config=config,
        db=db,
        store=store,
        templates=templates,
        signer=signer,
        senders=senders,
        addresses=addresses,
        state=StateStore(db),
        limiter=limiter,
        leases=leases,
        dispatcher=dispatcher,
        intake=intake,
    )


async def load_signing_key(ctx: GatewayContext) -> None:
    """Unless the environment gave one, sign with the key kept in the database (made by
    the first process that needs it, so links signed by one process verify on another)."""
    if not ctx.signer.ready:
        stored = await ctx.state.put_once(SECRET_STATE_KEY, {"key": new_secret_key(ctx.config.data_dir)})
        ctx.signer.use(str(stored["key"]).encode("utf-8"))


async def sync_catalogue(ctx: GatewayContext) -> None:
    """Make the units and services tables match the config file.  Processes started at the
    same moment race to insert the same rows: the loser reads them back and updates."""
    for attempt in range(3):
        try:
            await _sync_catalogue_once(ctx)
            return
        except IntegrityError:
            if attempt == 2:
                raise


async def _sync_catalogue_once(ctx: GatewayContext) -> None:
    cfg = ctx.config
    async with ctx.db.session() as s:
        units = {u.code: u for u in (await s.execute(select(Unit))).scalars()}
        for u in cfg.units:
            unit = units.get(u.code) or Unit(code=u.code)
            unit.name, unit.email = u.name, u.email
            s.add(unit)
        services = {x.code: x for x in (await s.execute(select(Service))).scalars()}
        for sv in cfg.services:
            service = services.get(sv.code) or Service(code=sv.code)
            service.title, service.unit_code, service.sla_days = sv.title, sv.unit, sv.sla_days
            service.card = sv.model_dump(mode="json")
            s.add(service)


@asynccontextmanager
async def running_context(
    config: Config,
    *,
    migrate: bool = True,
    dispatch: bool = True,
    db: Database | None = None,
    instance: str | None = None,
) -> AsyncIterator[GatewayContext]:
    """A started context: migrated, catalogue synced, intake writer and dispatcher running.
    With ``instance`` (``gateway run``), the name is claimed first: InstanceClash if a live
    process uses it."""
    ctx = build_context(config, db, instance)
    stats: asyncio.Task[None] | None = None
    try:
        if migrate:
            await ctx.db.migrate()
        if instance:
            await ctx.leases.claim_identity()
        await load_signing_key(ctx)
        await sync_catalogue(ctx)
        ctx.intake.start()
        if dispatch:
            ctx.dispatcher.start()
        if not ctx.db.is_sqlite:
            stats = asyncio.create_task(keep_first_stats(ctx.db), name="first-stats")
        yield ctx
    finally:
        if stats is not None:
            stats.cancel()
        await ctx.intake.stop()
        await ctx.dispatcher.stop()
        await ctx.leases.stop()
        await ctx.limiter.close()
        await ctx.db.dispose()
