"""``gateway run``: one event loop hosting HTTP, the channels and the outbox dispatcher."""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal

from aiohttp import web

from gateway.channels import CHANNELS
from gateway.core.channel import ChannelPlugin
from gateway.core.config import Config
from gateway.core.context import GatewayContext
from gateway.core.runtime import running_context
from gateway.core.scheduler import Job, Scheduler, default_jobs
from gateway.web.app import app_runner, create_app

log = logging.getLogger(__name__)
ROLES = ("http", "dispatch", "scheduler", *CHANNELS)


def load_channels(ctx: GatewayContext, only: set[str]) -> list[ChannelPlugin]:
    """Create the configured channel plugins (their senders register themselves)."""
    plugins = []
    for name, module in CHANNELS.items():
        plugin = importlib.import_module(module).create(ctx)
        if plugin is not None and (name in only or not only):
            plugins.append(plugin)
    return plugins


def scheduler_jobs() -> list[tuple[str, Job]]:
    """The scheduler role's jobs: the core's, plus the monthly survey report (printing)."""
    from gateway.printing.monthly_mail import monthly_report_job

    return [*default_jobs(), ("survey-report", monthly_report_job)]


async def serve(config: Config, only: set[str], stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or ``stop``) and shut down gracefully."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    dispatch = not only or "dispatch" in only
    async with running_context(config, dispatch=dispatch) as ctx:
        plugins = load_channels(ctx, only)
        runner = None
        scheduler = Scheduler(ctx, scheduler_jobs()) if not only or "scheduler" in only else None
        try:
            if not only or "http" in only:
                app = create_app(ctx, [p.routes() for p in plugins])
                runner = app_runner(app, shutdown_timeout=10)
                await runner.setup()
                await web.TCPSite(runner, config.http.host, config.http.port).start()
                log.info("HTTP on http://%s:%d", config.http.host, config.http.port)
            for p in plugins:
                await p.start()
                log.info("channel %s started", p.name)
            if scheduler is not None:
                scheduler.start()
                log.info("scheduler started")
            log.info("gateway running (database: %s)", ctx.db.dialect)
            await stop.wait()
            log.info("shutting down")
        finally:
            if scheduler is not None:
                await scheduler.stop()
            for p in reversed(plugins):
                await p.stop()
            if runner is not None:
                await runner.cleanup()
