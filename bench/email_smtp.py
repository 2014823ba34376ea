"""Benchmark: mails/s accepted over SMTP with N concurrent client connections, our server
(spool and direct modes) beside a bare aiosmtpd server that only answers 250, in one run.

The server runs in this process (one event loop, as in ``gateway run``); the load comes
from a separate process (aiosmtplib, one persistent connection per client) so the client's
CPU is not the server's.  "Accepted" means the client got 250: for our server that is after
the commit (of the raw mail in spool mode, of the case in direct mode).  For spool mode the
time until every mail has become a case (drained) is reported too.

  .venv/bin/python bench/email_smtp.py [--messages 3000] [--clients 50] [--database URL]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiosmtpd.smtp import SMTP
from sqlalchemy import func, select

from gateway.channels.email import create
from gateway.core.config import parse_config
from gateway.core.models import Case
from gateway.core.runtime import running_context

BODY = (
    "سلام. چراغ‌های خیابان ولیعصر، کوچه بهار، از هفته گذشته خاموش است و شب‌ها عبور و مرور "
    "برای سالمندان و کودکان خطرناک شده است. لطفاً پیگیری کنید. "
) * 6


def sample(n: int) -> bytes:
    """A ~2 KB Persian mail (base64 UTF-8 body, RFC 2047 subject), unique Message-ID."""
    m = EmailMessage()
    m["From"] = f"شهروند {n} <citizen{n % 500}@example.org>"
    m["To"] = "feedback@example.ir"
    m["Subject"] = f"خاموشی چراغ‌های خیابان شماره {n}"
    m["Message-ID"] = f"<bench-{n}-{os.getpid()}-{time.time_ns()}@example.org>"
    m.set_content(BODY)
    return bytes(m)


def client_process(port: int, messages: int, clients: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """The load generator (its own process and loop)."""
    import aiosmtplib

    async def one_client(k: int, raws: list[bytes]) -> int:
        ok = 0
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=120, start_tls=False)
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
        shares = [raws[k::clients] for k in range(clients)]
        start = time.perf_counter()
        oks = await asyncio.gather(*(one_client(k, s) for k, s in enumerate(shares)))
        out.put((sum(oks), time.perf_counter() - start))

    asyncio.run(main())


def load(port: int, messages: int, clients: int) -> tuple[int, float]:
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    p = ctx.Process(target=client_process, args=(port, messages, clients, q))
    p.start()
    return q, p  # type: ignore[return-value]


async def run_load(port: int, messages: int, clients: int) -> tuple[int, float]:
    q, p = load(port, messages, clients)  # type: ignore[misc]
    result = await asyncio.to_thread(q.get)
    await asyncio.to_thread(p.join)
    return result


class Bare:
    async def handle_DATA(self, server: SMTP, session: object, envelope: object) -> str:
        return "250 OK"


async def bench_bare(messages: int, clients: int) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(Bare(), hostname="bench", enable_SMTPUTF8=True), host="127.0.0.1", port=0
    )
    port = server.sockets[0].getsockname()[1]
    ok, secs = await run_load(port, messages, clients)
    server.close()
    await server.wait_closed()
    return {"accepted": ok, "seconds": secs, "rate": ok / secs}


async def bench_gateway(mode: str, messages: int, clients: int, database: str | None) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-email-"))
    data = {
        "gateway": {"database_url": database or f"sqlite+aiosqlite:///{tmp}/gw.db", "data_dir": str(tmp)},
        "email": {"smtp": {"port": 0, "mode": mode, "addresses": ["feedback@example.ir"]}, "auto_reply_cap": 10**6},
        "units": [{"code": "pr", "name": "روابط عمومی"}, {"code": "oversight", "name": "بازرسی"}],
    }
    config = parse_config(data, tmp)
    if database:
        from sqlalchemy import text

        from gateway.core.db import Database
        from gateway.core.models import Base

        db = Database(database)
        await db.migrate()
        async with db.engine.begin() as conn:
            await conn.execute(
                text(f"TRUNCATE {', '.join(t.name for t in Base.metadata.sorted_tables)} RESTART IDENTITY CASCADE")
            )
        await db.dispose()
    async with running_context(config, dispatch=True) as ctx:
        plugin = create(ctx)
        await plugin.start()
        start = time.perf_counter()
        ok, secs = await run_load(plugin.smtp.port, messages, clients)
        while True:  # until every accepted mail is a case (spool mode parses after the 250)
            async with ctx.db.session() as s:
                cases = await s.scalar(select(func.count()).select_from(Case))
            if cases >= ok:
                break
            await asyncio.sleep(0.05)
        drained = time.perf_counter() - start
        await plugin.stop()
    return {"accepted": ok, "seconds": secs, "rate": ok / secs, "cases_per_s": ok / drained, "drained_s": drained}


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--database", default=None, help="PostgreSQL URL (default: a fresh SQLite file)")
    ap.add_argument("--modes", default="bare,spool,direct")
    ap.add_argument("--rounds", type=int, default=3, help="paired rounds (every mode once per round)")
    args = ap.parse_args()
    modes = args.modes.split(",")
    rates: dict[str, list[float]] = {m: [] for m in modes}
    ratios: dict[str, list[float]] = {m: [] for m in modes if m != "bare"}
    for rnd in range(args.rounds):
        results: dict[str, dict[str, float]] = {}
        for mode in modes:
            if mode == "bare":
                results[mode] = await bench_bare(args.messages, args.clients)
            else:
                results[mode] = await bench_gateway(mode, args.messages, args.clients, args.database)
            r = results[mode]
            rates[mode].append(r["rate"])
            extra = (
                f", all {int(r['accepted'])} cases committed {r['drained_s']:.1f} s after the start"
                if "drained_s" in r
                else ""
            )
            print(
                f"round {rnd + 1} {mode:7s} {int(r['accepted'])} accepted in {r['seconds']:.2f} s = "
                f"{r['rate']:.0f} mails/s{extra}",
                flush=True,
            )
        if "bare" in results:
            for mode in ratios:
                ratios[mode].append(results[mode]["rate"] / results["bare"]["rate"])
    for mode in modes:
        line = f"{mode}: median {statistics.median(rates[mode]):.0f} mails/s ({min(rates[mode]):.0f}-{max(rates[mode]):.0f})"
        if mode in ratios and ratios[mode]:
            line += f", {100 * statistics.median(ratios[mode]):.0f}% of bare (median of paired rounds)"
        print(line)


if __name__ == "__main__":
    asyncio.run(main())
