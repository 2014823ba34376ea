"""Benchmark: /healthz latency while heavy mails are parsed (issue 18 item 7).

One gateway process (SMTP in spool mode, the drainer, the HTTP app with /healthz) serves;
a second process asks /healthz every 20 ms and a third sends heavy mails (~3 MB, 950 parts,
within the parse bounds, so each is parsed in full) over SMTP one after another.  Three
phases in the same run:

- ``idle``: no mail (the baseline of the machine);
- ``heavy, parse in worker``: the gateway as shipped (parse in the mail parser process;
  /healthz answers from the database's last ping, which a task of the process takes every
  second);
- ``heavy, worker, live db check``: the same, but /healthz pings the database in person
  (as before the health watch);
- ``heavy, parse in thread``: parsed in a thread of the gateway process (GIL shared);
- ``heavy, parse on loop``: parsed on the event loop (as before issue 18).

Besides /healthz as a client sees it, the gateway process measures its own event loop's
lag (a task that asks to wake every 10 ms records how late it woke) and how long each
database ping took ("db p99": the health watch's pings, or /healthz's own in the
``live db`` phase).

  .venv/bin/python bench/email_heavy.py [--seconds 20] [--parts 950] [--part-bytes 3000] [--database URL]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import multiprocessing as mp
import smtplib
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web
from sqlalchemy import func, select

from gateway.channels.email import create
from gateway.channels.email.inbound import Envelope, MailIntake
from gateway.channels.email.parse import parse_mail
from gateway.core.config import parse_config
from gateway.core.models import InboundSpool
from gateway.core.runtime import running_context
from gateway.web.app import app_runner, create_app

PINGS: list[float] = []  # how long each /healthz database check took, in ms


def heavy_mail(n: int, parts: int, part_bytes: int) -> bytes:
    """One mail of ``parts`` text parts of ``part_bytes`` each (unique Message-ID)."""
    line = ("گزارش بازدید از محله، بند " * 20)[:70] + "\r\n"
    chunk = (line * (part_bytes // len(line.encode()) + 1)).encode()[:part_bytes]
    head = (
        f"From: citizen{n}@example.org\r\nTo: feedback@example.ir\r\nSubject: heavy {n}\r\n"
        f"Message-ID: <heavy-{n}-{time.time_ns()}@example.org>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="h"\r\n\r\n'
    ).encode()
    body = b"".join(b"--h\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + chunk + b"\r\n" for _ in range(parts))
    return head + body + b"--h--\r\n"


def prober(port: int, seconds: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """Ask /healthz every 20 ms; report each answer's latency in ms."""
    times: list[float] = []
    end = time.monotonic() + seconds
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    while time.monotonic() < end:
        t0 = time.perf_counter()
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        response.read()
        assert response.status == 200
        times.append((time.perf_counter() - t0) * 1000)
        time.sleep(max(0.0, 0.02 - (time.perf_counter() - t0)))
    out.put(times)


def sender(port: int, seconds: float, parts: int, part_bytes: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """Send heavy mails one after another for ``seconds``; report how many went in."""
    sent, end, n = 0, time.monotonic() + seconds, 0
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as c:
        while time.monotonic() < end:
            n += 1
            c.sendmail("citizen@example.org", ["feedback@example.ir"], heavy_mail(n, parts, part_bytes))
            sent += 1
            time.sleep(0.2)
    out.put(sent)


async def loop_lag(samples: list[float], stop: asyncio.Event) -> None:
    """How late the event loop runs a 10 ms timer, in ms."""
    while not stop.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(0.01)
        samples.append((time.perf_counter() - t0 - 0.01) * 1000)


async def phase(name: str, http_port: int, smtp_port: int, args: argparse.Namespace, heavy: bool) -> dict[str, Any]:
    lags: list[float] = []
    PINGS.clear()
    stop = asyncio.Event()
    ticker = asyncio.create_task(loop_lag(lags, stop))
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=prober, args=(http_port, args.seconds, queue))]
    if heavy:
        procs.append(ctx.Process(target=sender, args=(smtp_port, args.seconds, args.parts, args.part_bytes, queue)))
    for p in procs:
        p.start()
    results: list[Any] = []
    while len(results) < len(procs):
        results.append(await asyncio.to_thread(queue.get))
    for p in procs:
        await asyncio.to_thread(p.join)
    stop.set()
    await ticker
    times = next(r for r in results if isinstance(r, list))
    sent = next((r for r in results if isinstance(r, int)), 0)
    q, lag = statistics.quantiles(times, n=100), statistics.quantiles(lags, n=100)
    return {
        "phase": name,
        "requests": len(times),
        "p50": q[49],
        "p99": q[98],
        "max": max(times),
        "mails": sent,
        "lag99": lag[98],
        "lagmax": max(lags),
        "ping99": statistics.quantiles(PINGS, n=100)[98],
    }


async def main(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-heavy-"))
    url = args.database or f"sqlite+aiosqlite:///{folder}/gw.db"
    config = parse_config(
        {
            "gateway": {"database_url": url, "data_dir": str(folder)},
            "email": {"smtp": {"port": 0, "max_message_bytes": 20 * 2**20}},
            "units": [{"code": "pr", "name": "روابط عمومی"}, {"code": "oversight", "name": "بازرسی"}],
            "routing": {"default_unit": "pr"},
        },
        folder,
    )
    size = len(heavy_mail(0, args.parts, args.part_bytes))
    print(f"heavy mail: {size / 2**20:.1f} MB, {args.parts} parts; {args.seconds:.0f} s per phase")
    async with running_context(config, migrate=True, dispatch=False) as gw:
        plugin = create(gw)
        await plugin.start()
        pings = PINGS
        real_ping = gw.db.ping

        async def timed_ping() -> bool:
            t0 = time.perf_counter()
            ok = await real_ping()
            pings.append((time.perf_counter() - t0) * 1000)
            return ok

        gw.db.ping = timed_ping  # type: ignore[method-assign]
        runner = app_runner(create_app(gw))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        http_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        rows = [
            await phase("idle", http_port, plugin.smtp.port, args, heavy=False),
            await phase("heavy, parse in worker", http_port, plugin.smtp.port, args, heavy=True),
        ]
        watched = gw.db.healthy
        gw.db.healthy = timed_ping  # type: ignore[method-assign]
        rows.append(await phase("heavy, worker, live db", http_port, plugin.smtp.port, args, heavy=True))
        gw.db.healthy = watched  # type: ignore[method-assign]
        original = MailIntake.parse
        thread = ThreadPoolExecutor(1)

        async def in_thread(self: MailIntake, raw: bytes, envelope: Envelope) -> Any:
            return await asyncio.get_running_loop().run_in_executor(
                thread, parse_mail, raw, self.limits, envelope.mail_from
            )

        async def on_loop(self: MailIntake, raw: bytes, envelope: Envelope) -> Any:
            return parse_mail(raw, self.limits, envelope.mail_from)  # the way it was: on the event loop

        try:
            for label, variant in (("heavy, parse in thread", in_thread), ("heavy, parse on loop", on_loop)):
                MailIntake.parse = variant  # type: ignore[method-assign]
                rows.append(await phase(label, http_port, plugin.smtp.port, args, heavy=True))
        finally:
            MailIntake.parse = original  # type: ignore[method-assign]
        while await plugin.drainer.run_once():
            pass
        async with gw.db.session() as s:
            left = await s.scalar(select(func.count()).select_from(InboundSpool).where(InboundSpool.status != "done"))
        await runner.cleanup()
        await plugin.stop()
    print(
        f"{'phase':<26}{'requests':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'mails':>7}"
        f"{'lag p99':>9}{'lag max':>9}{'db p99':>9}"
    )
    for r in rows:
        print(
            f"{r['phase']:<26}{r['requests']:>9}{r['p50']:>9.1f}{r['p99']:>9.1f}{r['max']:>9.1f}{r['mails']:>7}"
            f"{r['lag99']:>9.1f}{r['lagmax']:>9.1f}{r['ping99']:>9.1f}"
        )
    print(f"spool rows not done at the end: {left}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--parts", type=int, default=950)
    parser.add_argument("--part-bytes", type=int, default=3000)
    parser.add_argument(
        "--database", default="", help="a database URL (default: a new SQLite file); PostgreSQL: an empty database"
    )
    asyncio.run(main(parser.parse_args()))
