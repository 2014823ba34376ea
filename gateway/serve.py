"""``gateway run``: one event loop hosting HTTP, the channels and the outbox dispatcher."""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
from typing import Any

from aiohttp import web

from gateway.channels import CHANNELS
from gateway.core.channel import ChannelPlugin
from gateway.core.config import Config
from gateway.core.context import GatewayContext
from gateway.core.leases import instance_name
from gateway.core.runtime import running_context
from gateway.core.scheduler import Job, Scheduler, default_jobs
from gateway.web.app import app_runner, create_app, create_webhook_app
from gateway.web.proxy_protocol import ProxyProtocolSite

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


async def start_http(ctx: GatewayContext, channel_routes: list[Any], runners: list[web.AppRunner]) -> None:
    """The public listener, and the webhooks' own listener when ``[http.webhooks]`` is set;
    each runner goes into ``runners`` before it starts, so the caller can clean up."""
    http = ctx.config.http
    apps = [(create_app(ctx, [] if http.webhooks else channel_routes), http.host, http.port)]
    if http.webhooks:
        apps.append((create_webhook_app(ctx, channel_routes), http.webhooks.host, http.webhooks.port))
    for app, host, port in apps:
        runner = app_runner(app, shutdown_timeout=10)
        runners.append(runner)
        await runner.setup()
        site = ProxyProtocolSite if http.proxy_protocol else web.TCPSite  # behind a TCP balancer
        await site(runner, host, port).start()
        log.info("HTTP on http://%s:%d%s", host, port, " (webhooks)" if len(runners) == 2 else "")


async def serve(config: Config, only: set[str], stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or ``stop``) and shut down gracefully."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    dispatch = not only or "dispatch" in only
    name = instance_name(config.gateway.instance_name, only)
    async with running_context(config, dispatch=dispatch, instance=name) as ctx:
        plugins = load_channels(ctx, only)
        runners: list[web.AppRunner] = []
        scheduler = Scheduler(ctx, scheduler_jobs()) if not only or "scheduler" in only else None
        try:
            if not only or "http" in only:
                await start_http(ctx, [p.routes() for p in plugins], runners)
            for p in plugins:
                await p.start()
                log.info("channel %s started", p.name)
            if scheduler is not None:
                scheduler.start()
                log.info("scheduler started")
            log.info("gateway running as %s (database: %s)", name, ctx.db.dialect)
            await stop.wait()
            log.info("shutting down")
        finally:
            if scheduler is not None:
                await scheduler.stop()
            for p in reversed(plugins):
                await p.stop()
            for runner in runners:
                await runner.cleanup()
