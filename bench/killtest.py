"""The kill -9 load test: mixed SMTP and SMS load from retrying senders against N real
``gateway run`` processes, the processes killed with SIGKILL and restarted again and again,
then the counts that matter: lost (acknowledged but no case), duplicate cases, and
acknowledgements sent twice (the same key twice at the sink, or two keys for one message).

    .venv/bin/python bench/killtest.py --db sqlite --processes 1
    .venv/bin/python bench/killtest.py --db pg --processes 2 --pg postgresql+asyncpg://postgres@127.0.0.1/postgres

Every mail and every SMS is a new message from its own sender (so each opens a case and
gets an acknowledgement).  A sender tries a random process; on a refused connection, a
4xx/5xx, a reset or a timeout it tries again (another random process) until it gets
250 / 200, and notes that moment.  Acknowledgements go to an SMTP sink and a Kannel-like
sendsms sink in this process.  Times: acknowledgement to the client -> the case row's
``created_at``, and -> the acknowledgement's arrival at the sink (p50, max).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import aiohttp
import aiosmtplib
from cluster import KANNEL_TOKEN, Cluster, Sinks, base_config, drop_pg, fresh_database

TEXT = "شکایت درباره آسفالت خیابان و چاله‌های جلوی مدرسه"


class Load:
    """The senders and what they were told."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.acked: dict[str, float] = {}  # message id -> when the gateway said 250 / 200
        self.retries = 0

    def node(self):
        return random.choice(self.cluster.nodes)

    async def mail(self, n: int) -> None:
        msg = EmailMessage()
        mid = f"<kill-{n}@citizen.example>"
        msg["From"], msg["To"], msg["Subject"] = f"c{n}@citizen.example", "feedback@example.ir", f"شکایت {n}"
        msg["Message-ID"] = mid
        msg.set_content(f"{TEXT} {n}")
        while True:
            node = self.node()
            try:
                await aiosmtplib.send(msg, hostname="127.0.0.1", port=node.smtp_port, timeout=15)
                self.acked[mid] = time.time()
                return
            except Exception:  # noqa: BLE001 - a killed process: try again elsewhere
                self.retries += 1
                await asyncio.sleep(0.2)

    async def sms(self, session: aiohttp.ClientSession, n: int) -> None:
        sender = f"0913{n:07d}"
        ext = f"kill-{n}"
        while True:
            node = self.node()
            url = (
                f"http://127.0.0.1:{node.http_port}/sms/kannel/mo?from={sender}&to=30001234"
                f"&text={quote(TEXT)}&charset=UTF-8&coding=0&id={ext}&ts={int(time.time())}"
                f"&smsc=FAKE&token={KANNEL_TOKEN}"
            )
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=15)) as r:
                    await r.read()
                    if r.status == 200:
                        self.acked[ext] = time.time()
                        return
            except Exception:  # noqa: BLE001 - a killed process: try again elsewhere
                pass
            self.retries += 1
            await asyncio.sleep(0.2)


async def run_load(load: Load, mails: int, sms: int, workers: int) -> None:
    jobs = [("mail", i) for i in range(mails)] + [("sms", i) for i in range(sms)]
    random.shuffle(jobs)
    queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    async with aiohttp.ClientSession(headers={"X-Gateway-Token": KANNEL_TOKEN}) as session:

        async def worker() -> None:
            while not queue.empty():
                kind, n = queue.get_nowait()
                await (load.mail(n) if kind == "mail" else load.sms(session, n))

        await asyncio.gather(*(worker() for _ in range(workers)))


async def killer(cluster: Cluster, kills: int, every: float, stop: asyncio.Event) -> int:
    """SIGKILL a random process every ``every`` seconds and start it again at once."""
    done = 0
    while done < kills and not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), every)
            break
        except TimeoutError:
            pass
        node = random.choice(cluster.nodes)
        cluster.kill(node)
        cluster.start(node)
        done += 1
    return done


async def settle(db_url: str, acked: dict[str, float], limit: float = 600) -> float:
    """Wait until every acknowledged message has its case and no ack is unsent; seconds waited."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(db_url)
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < limit:
            async with engine.connect() as conn:
                keys = (await conn.execute(text("SELECT count(*) FROM inbound_keys"))).scalar()
                unsent = (
                    await conn.execute(text("SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')"))
                ).scalar()
                pending = (
                    await conn.execute(text("SELECT count(*) FROM inbound_spool WHERE status = 'pending'"))
                ).scalar()
            if keys >= len(acked) and not unsent and not pending:
                break
            await asyncio.sleep(0.5)
    finally:
        await engine.dispose()
    return time.perf_counter() - start


def stamp(at: object) -> float:
    """A created_at as epoch seconds (SQLite gives text, PostgreSQL a datetime; both UTC)."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    assert isinstance(at, datetime)
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


async def count(db_url: str, load: Load, sinks: Sinks) -> dict[str, object]:
    """Lost, duplicates, double-sent and the delays (see the module doc)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(db_url)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT m.external_id, c.created_at, c.id FROM messages m JOIN cases c ON c.id = m.case_id "
                    "WHERE m.direction = 'in'"
                )
            )
        ).all()
        cases = (await conn.execute(text("SELECT count(*) FROM cases"))).scalar()
        failed = (await conn.execute(text("SELECT count(*) FROM outbox WHERE status = 'failed'"))).scalar()
    await engine.dispose()
    created = {ext: stamp(at) for ext, at, _ in rows}
    lost = [m for m in load.acked if m not in created]
    per_message = Counter(ext for ext, _, _ in rows)
    duplicates = cases - len(per_message) + sum(n - 1 for n in per_message.values())
    to_case = sorted(max(0.0, created[m] - t) for m, t in load.acked.items() if m in created)
    mail_keys = Counter(ours for ours, _, _ in sinks.mail)
    sms_keys = Counter(out for out, _, _ in sinks.sms)
    twice_mail = sum(1 for n in mail_keys.values() if n > 1)
    twice_sms = sum(1 for n in sms_keys.values() if n > 1)
    first_at: dict[str, float] = {}
    keys_per_message: dict[str, set[str]] = {}
    for ours, theirs, at in sinks.mail:
        first_at.setdefault(theirs, at)
        keys_per_message.setdefault(theirs, set()).add(ours)
    for out, to, at in sinks.sms:
        ext = f"kill-{int(to[-7:])}" if to[-7:].isdigit() else to
        first_at.setdefault(ext, at)
        keys_per_message.setdefault(ext, set()).add(out)
    second_key = sum(1 for keys in keys_per_message.values() if len(keys) > 1)
    to_sink = sorted(max(0.0, first_at[m] - t) for m, t in load.acked.items() if m in first_at)
    return {
        "acked": len(load.acked),
        "cases": cases,
        "lost": len(lost),
        "duplicates": duplicates,
        "double_sent_mail": twice_mail,
        "double_sent_sms": twice_sms,
        "second_key": second_key,
        "acks_at_sink": len(first_at),
        "failed_acks": failed,
        "retries": load.retries,
        "dlrs": sinks.reports,
        "to_case_p50": statistics.median(to_case) if to_case else None,
        "to_case_max": to_case[-1] if to_case else None,
        "to_sink_p50": statistics.median(to_sink) if to_sink else None,
        "to_sink_max": to_sink[-1] if to_sink else None,
    }


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="gw-kill-") as tmp:
        workdir = Path(tmp)
        sinks = Sinks()
        await sinks.start()
        db_url = await fresh_database(args.db, workdir, args.pg)
        cluster = Cluster(workdir, db_url, base_config(sinks.smtp_port, sinks.kannel_url))
        for _ in range(args.processes):
            cluster.add()
        sinks.dlr_ports = [n.http_port for n in cluster.nodes]
        try:
            cluster.run_cli("init")
            for node in cluster.nodes:
                cluster.start(node)
            for node in cluster.nodes:
                await asyncio.to_thread(cluster.wait_healthy, node)
            load, stop = Load(cluster), asyncio.Event()
            kills = asyncio.create_task(killer(cluster, args.kills, args.every, stop))
            started = time.perf_counter()
            await run_load(load, args.mails, args.sms, args.workers)
            stop.set()
            killed = await kills
            load_seconds = time.perf_counter() - started
            waited = await settle(db_url, load.acked)
            await asyncio.sleep(2)  # the last acks in flight reach the sinks
            result = await count(db_url, load, sinks)
        finally:
            cluster.stop_all()
            await sinks.stop()
            if args.db == "pg" and not args.keep:
                await drop_pg(db_url)
    print(
        f"{args.db}, {args.processes} process(es): {args.mails} mails + {args.sms} SMS, "
        f"{args.workers} retrying senders, {killed} kill -9 + restart every {args.every} s; "
        f"load {load_seconds:.0f} s, settled {waited:.0f} s later"
    )
    for key, value in result.items():
        print(f"  {key:14s} {value:.2f}" if isinstance(value, float) else f"  {key:14s} {value}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=["sqlite", "pg"], default="sqlite")
    ap.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1/postgres")
    ap.add_argument("--processes", type=int, default=1)
    ap.add_argument("--mails", type=int, default=1000)
    ap.add_argument("--sms", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=20)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--every", type=float, default=4.0)
    ap.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    asyncio.run(main(ap.parse_args()))
