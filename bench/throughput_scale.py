"""Scale-out throughput: the SMS webhook and SMTP on PostgreSQL with one and with two real
``gateway run`` processes, beside bare servers (aiohttp answering 200 / aiosmtpd answering
250, storing nothing) in the same run.  Two figures each:

- **accept rate**: 200 / 250 answers per second during the load (each after the durable
  commit of the raw request in the spool);
- **sustained rate**: requests that became cases with their acknowledgement queued, per
  second, counted from the start of the load until the backlog is drained;
- and, beside them, the rate counted until every acknowledgement has reached the sink (the
  dispatchers' work included: a dispatcher that lagged behind would flatter the sustained
  rate).

    .venv/bin/python bench/throughput_scale.py [--seconds 10] [--connections 50] [--mails 3000]
        [--pg postgresql+asyncpg://postgres@127.0.0.1/postgres] [--what sms,smtp]

The load client runs in this process (SMS: aiohttp, keep-alive, one connection per worker,
spread round-robin over the processes; SMTP: a separate client process, one persistent
connection per client, spread the same way).  Every SMS and every mail is new (own id,
own sender), so each one opens a case.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import aiohttp
from cluster import KANNEL_TOKEN, ROOT, Cluster, Sinks, base_config, drop_pg, free_port, fresh_database

TEXT = quote("شکایت درباره آسفالت خیابان ۱۲ و چاله‌های بزرگ جلوی مدرسه")


async def sms_load(ports: list[int], seconds: float, connections: int, token: bool) -> tuple[int, float]:
    """(200 answers, seconds) of closed-loop load spread over ``ports``."""
    ok = 0
    counter = iter(range(10**9))
    deadline = time.perf_counter() + seconds
    run = time.time_ns()

    async def worker(session: aiohttp.ClientSession, port: int) -> None:
        nonlocal ok
        while time.perf_counter() < deadline:
            n = next(counter)
            url = (
                f"http://127.0.0.1:{port}/sms/kannel/mo?from=0912{n % 10**7:07d}&to=30001234&text={TEXT}"
                f"&charset=UTF-8&coding=0&id=tp-{run}-{n}&ts=1732000000&smsc=FAKE"
                + (f"&token={KANNEL_TOKEN}" if token else "")
            )
            async with session.get(url) as r:
                await r.read()
                ok += r.status == 200

    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=60),
        headers={"X-Gateway-Token": KANNEL_TOKEN} if token else None,
    ) as session:
        start = time.perf_counter()
        await asyncio.gather(*(worker(session, ports[i % len(ports)]) for i in range(connections)))
        return ok, time.perf_counter() - start


def smtp_client(ports: list[int], messages: int, clients: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """The SMTP load generator (its own process): returns (250s, seconds)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import aiosmtplib
    from email_smtp import sample

    async def one(k: int, raws: list[bytes]) -> int:
        ok = 0
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=ports[k % len(ports)], timeout=120, start_tls=False)
        await smtp.connect()
        for raw in raws:
            try:
                await smtp.sendmail(f"citizen{k}@example.org", ["feedback@example.ir"], raw)
                ok += 1
            except aiosmtplib.SMTPResponseException:
                pass
        await smtp.quit()
        return ok

    async def main() -> None:
        raws = [sample(n) for n in range(messages)]
        start = time.perf_counter()
        oks = await asyncio.gather(*(one(k, raws[k::clients]) for k in range(clients)))
        out.put((sum(oks), time.perf_counter() - start))

    asyncio.run(main())


async def smtp_load(ports: list[int], messages: int, clients: int) -> tuple[int, float]:
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    p = ctx.Process(target=smtp_client, args=(ports, messages, clients, q))
    p.start()
    result = await asyncio.to_thread(q.get)
    await asyncio.to_thread(p.join)
    return result


BARE_SMTP = """
import asyncio, sys
from aiosmtpd.smtp import SMTP
class Bare:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"
async def main():
    loop = asyncio.get_running_loop()
    await loop.create_server(lambda: SMTP(Bare(), hostname="bench", enable_SMTPUTF8=True), "127.0.0.1", int(sys.argv[1]))
    await asyncio.Event().wait()
asyncio.run(main())
"""


def start_bare(kind: str, port: int) -> subprocess.Popen[bytes]:
    if kind == "sms":
        args = [sys.executable, str(ROOT / "bench" / "sms_webhook.py"), "--serve", "bare", str(port), "."]
    else:
        args = [sys.executable, "-c", BARE_SMTP, str(port)]
    proc = subprocess.Popen(args, cwd=ROOT)
    import socket

    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return proc
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("bare server did not start")


async def drained(db_url: str, accepted: int, limit: float = 900) -> float:
    """Wait until no spool row is pending and the cases (each with its queued ack) number
    ``accepted``; return when (perf_counter)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(db_url)
    end = time.perf_counter() + limit
    try:
        while time.perf_counter() < end:
            # cheap while rows wait (one index probe), counts only then: the poll runs on the
            # database under test (two counts every 0.1 s cost it 15 % of a core)
            async with engine.connect() as conn:
                pending = (
                    await conn.execute(text("SELECT EXISTS (SELECT 1 FROM inbound_spool WHERE status = 'pending')"))
                ).scalar()
                if not pending:
                    acks = (await conn.execute(text("SELECT count(*) FROM outbox WHERE purpose = 'ack'"))).scalar()
                    if acks >= accepted:
                        return time.perf_counter()
            await asyncio.sleep(0.1)
    finally:
        await engine.dispose()
    raise RuntimeError("backlog not drained")


async def gateway_run(kind: str, processes: int, args: argparse.Namespace, sinks: Sinks) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="gw-tp-") as tmp:
        db_url = await fresh_database("pg", Path(tmp), args.pg)
        config = base_config(sinks.smtp_port, sinks.kannel_url)
        config["email"]["auto_reply_cap"] = 10**6
        cluster = Cluster(Path(tmp), db_url, config)
        for _ in range(processes):
            cluster.add()
        try:
            cluster.run_cli("init")
            for node in cluster.nodes:
                cluster.start(node)
            for node in cluster.nodes:
                await asyncio.to_thread(cluster.wait_healthy, node)
            at_sink = len(sinks.sms) + len(sinks.mail)
            start = time.perf_counter()
            if kind == "sms":
                ok, secs = await sms_load([n.http_port for n in cluster.nodes], args.seconds, args.connections, True)
            else:
                ok, secs = await smtp_load([n.smtp_port for n in cluster.nodes], args.mails, args.connections)
            done = await drained(db_url, ok)
            sent = await at_the_sink(sinks, at_sink + ok)
        finally:
            cluster.stop_all()
            await drop_pg(db_url)
    return {
        "accept": ok / secs,
        "sustained": ok / (done - start),
        "backlog_s": done - start - secs,
        "acked": ok / (sent - start),
    }


async def at_the_sink(sinks: Sinks, count: int, limit: float = 900) -> float:
    """Wait until the sinks hold ``count`` acknowledgements in all; return when."""
    end = time.perf_counter() + limit
    while len(sinks.sms) + len(sinks.mail) < count:
        if time.perf_counter() > end:
            raise RuntimeError("acknowledgements did not all reach the sink")
        await asyncio.sleep(0.1)
    return time.perf_counter()


async def bare_run(kind: str, args: argparse.Namespace) -> float:
    port = free_port()
    proc = start_bare(kind, port)
    try:
        if kind == "sms":
            ok, secs = await sms_load([port], args.seconds, args.connections, False)
        else:
            ok, secs = await smtp_load([port], args.mails, args.connections)
    finally:
        proc.terminate()
        proc.wait()
    return ok / secs


async def main(args: argparse.Namespace) -> None:
    sinks = Sinks()
    await sinks.start()
    try:
        for kind in args.what.split(","):
            bare = await bare_run(kind, args)
            print(f"{kind}: bare accept {bare:.0f}/s", flush=True)
            for processes in (1, 2):
                r = await gateway_run(kind, processes, args, sinks)
                print(
                    f"{kind}: {processes} process(es): accept {r['accept']:.0f}/s ({r['accept'] / bare:.0%} of bare), "
                    f"sustained {r['sustained']:.0f}/s ({r['sustained'] / bare:.0%} of bare accept), "
                    f"backlog drained {r['backlog_s']:.1f} s after the load, "
                    f"every acknowledgement at the sink: {r['acked']:.0f}/s ({r['acked'] / bare:.0%})",
                    flush=True,
                )
    finally:
        await sinks.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--mails", type=int, default=3000)
    ap.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1/postgres")
    ap.add_argument("--what", default="sms,smtp")
    asyncio.run(main(ap.parse_args()))
