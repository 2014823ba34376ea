"""Benchmark: how fast one process turns spooled SMS or mails into cases (the spool drainer),
beside ``core.intake`` alone in the same run (the same messages submitted straight, 50 at a
time; for mail, parsed beforehand).

A flood is accepted at the edge (spool rows committed) faster than cases are made; the
drain rate is what decides how long the backlog lasts (bench/README.md "Scale-out").

    .venv/bin/python bench/drain.py [--n 5000] [--pg postgresql+asyncpg://postgres@127.0.0.1/postgres]
        [--channel sms|email] [--profile FILE]   # cProfile of the drain phase, for `python -m pstats FILE`
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster import base_config, drop_pg, fresh_database
from email_smtp import sample

from gateway.channels import email as email_channel
from gateway.channels.email.inbound import Envelope
from gateway.channels.sms import create
from gateway.channels.sms.parse import IncomingSms
from gateway.channels.sms.webhook import encode, to_inbound
from gateway.core.config import parse_config
from gateway.core.runtime import running_context

TEXT = "شکایت درباره آسفالت خیابان ۱۲ و چاله‌های بزرگ جلوی مدرسه"


def sms(run: str, n: int) -> IncomingSms:
    return IncomingSms("kannel", f"dr-{run}-{n}", f"+98912{n % 10**7:07d}", "30001234", TEXT)


async def one(kind: str, args: argparse.Namespace, what: str) -> float:
    folder = Path(tempfile.mkdtemp(prefix="bench-drain-"))
    url = await fresh_database(kind, folder, args.pg)
    data = base_config()
    data["gateway"].update({"database_url": url, "data_dir": str(folder)})
    data["sms"]["kannel"] = {"sendsms_url": "http://127.0.0.1:9/cgi-bin/sendsms"}
    os.environ["GATEWAY_KANNEL_CALLBACK_TOKEN"] = "bench-drain"
    config = parse_config(data, folder)
    run = str(time.time_ns())
    try:
        async with running_context(config, migrate=True, dispatch=False) as gw:
            if args.channel == "email":
                plugin = email_channel.create(gw)
                spool, drainer = plugin.spool, plugin.drainer
                raws = [sample(n) for n in range(args.n)]
                envelope = {"mail_from": "citizen@example.org", "rcpt_tos": ["feedback@example.ir"]}
                put = [spool.put(raw, "smtp", None, envelope) for raw in raws]
                msgs = (
                    [
                        (
                            await plugin.intake.prepare(
                                raw, Envelope("smtp", envelope["mail_from"], ["feedback@example.ir"])
                            )
                        )[0]
                        for raw in raws
                    ]
                    if what == "intake"
                    else []
                )
            else:
                sms_plugin = create(gw)
                assert sms_plugin is not None
                spool, drainer = sms_plugin.inbound.spool, sms_plugin.inbound.drainer
                put = [spool.put(encode(sms(run, n)), "kannel", f"dr-{run}-{n}", {}) for n in range(args.n)]
                msgs = [to_inbound(sms(run, n), gw.config) for n in range(args.n)] if what == "intake" else []
            if what == "drain":
                spool.start()
                await asyncio.gather(*put)
                profiler = cProfile.Profile() if args.profile else None
                t0 = time.perf_counter()
                if profiler:
                    profiler.enable()
                done = 0
                while settled := await drainer.run_once():
                    done += settled
                if profiler:
                    profiler.disable()
                elapsed = time.perf_counter() - t0
                if profiler:
                    profiler.dump_stats(args.profile)
                await spool.stop()
                assert done == args.n, done
            else:
                for c in put:
                    c.close()  # not awaited: intake alone
                queue = iter(msgs)
                t0 = time.perf_counter()

                async def submitter() -> None:
                    for m in queue:
                        await gw.intake.submit(m)

                await asyncio.gather(*(submitter() for _ in range(50)))
                elapsed = time.perf_counter() - t0
    finally:
        if kind == "pg":
            await drop_pg(url)
    return args.n / elapsed


async def main(args: argparse.Namespace) -> None:
    for kind in ("pg",) if args.pg_only else ("sqlite", "pg"):
        intake = await one(kind, args, "intake")
        drain = await one(kind, args, "drain")
        print(
            f"{kind} {args.channel}: intake alone {intake:.0f} cases/s, "
            f"spool drain {drain:.0f} cases/s ({drain / intake:.0%})"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1/postgres")
    parser.add_argument("--pg-only", action="store_true")
    parser.add_argument("--profile", default="")
    parser.add_argument("--channel", choices=("sms", "email"), default="sms")
    asyncio.run(main(parser.parse_args()))
