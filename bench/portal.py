"""Portal form submissions per second: ``POST /submit`` on the gateway (multipart parse
with the portal's limits, form-token check, dedupe-ledger read, the two database-held
limit counters, core intake's group commit: case, message, attachment row and fsynced
file, audit event, ledger row, queued acknowledgement) beside a bare aiohttp handler that
parses the same multipart form and does a durable insert of the submission (the file
written and fsynced, then the case, message and attachment rows in one SQLite transaction,
WAL, synchronous=FULL, one commit per request).  Same run, same client, same bodies.

    .venv/bin/python bench/portal.py [--seconds 10] [--connections 20]

Two payloads: the text form alone, and the form with a 200 KB JPEG photo.  Each server runs
in its own process; the client (asyncio + aiohttp, keep-alive) runs in this one.  Every
request carries a fresh form token (minted with the server's key, so no GET is needed) and
a unique email, so each one opens a case.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from closed_loop import closed_loop, run_app
from closed_loop import start_server as start_script_server

KEY = "bench-portal-secret-key-0123456789"
TEXT = "در باجهٔ شمارهٔ ۳ کارمند بدون توضیح پرونده‌ام را نپذیرفت و گفت فردا بیایید. " * 4
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(200 * 1024)


async def serve_gateway(port: int, workdir: str) -> None:
    from gateway.core.config import parse_config
    from gateway.core.runtime import running_context
    from gateway.web.app import create_app

    os.environ["GATEWAY_SECRET_KEY"] = KEY
    config = parse_config(
        {
            "gateway": {"database_url": f"sqlite+aiosqlite:///{workdir}/bench.db", "data_dir": f"{workdir}/var"},
            "portal": {"per_ip_per_hour": 10**9, "per_contact_per_day": 10**9},
        },
        Path(workdir),
    )
    async with running_context(config, migrate=True, dispatch=False) as ctx:
        await run_app(create_app(ctx), port)


def bare_app(workdir: str) -> web.Application:
    """Parse the multipart form, store the file durably, insert the rows; 303 like /submit."""
    conn = sqlite3.connect(f"{workdir}/bare.db", check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.executescript("""
        CREATE TABLE IF NOT EXISTS cases (id INTEGER PRIMARY KEY, code TEXT UNIQUE, kind TEXT,
            subject TEXT, contact TEXT, created_at REAL);
        CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, case_id INTEGER, token TEXT UNIQUE,
            text TEXT);
        CREATE TABLE IF NOT EXISTS attachments (id INTEGER PRIMARY KEY, message_id INTEGER,
            filename TEXT, size INTEGER, sha256 TEXT);""")
    lock = threading.Lock()
    files = Path(workdir) / "files"
    files.mkdir(exist_ok=True)

    def store(fields: dict[str, str], uploads: list[tuple[str, bytes]]) -> None:
        stored = []
        for name, data in uploads:
            digest = hashlib.sha256(data).hexdigest()
            with open(files / digest, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            stored.append((name, len(data), digest))
        with lock:
            conn.execute("BEGIN IMMEDIATE")
            cur = conn.execute(
                "INSERT INTO cases (code, kind, subject, contact, created_at) VALUES (?,?,?,?,?)",
                (uuid.uuid4().hex[:10], fields.get("kind"), fields.get("subject"), fields.get("email"), time.time()),
            )
            mid = conn.execute(
                "INSERT INTO messages (case_id, token, text) VALUES (?,?,?)",
                (cur.lastrowid, fields.get("token"), fields.get("text")),
            ).lastrowid
            conn.executemany(
                "INSERT INTO attachments (message_id, filename, size, sha256) VALUES (?,?,?,?)",
                [(mid, *s) for s in stored],
            )
            conn.execute("COMMIT")

    async def submit(request: web.Request) -> web.Response:
        fields, uploads = {}, []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            data = await part.read()
            if part.filename is None:
                fields[part.name or ""] = data.decode()
            elif data:
                uploads.append((part.filename, bytes(data)))
        await asyncio.to_thread(store, fields, uploads)
        raise web.HTTPSeeOther("/submit/done")

    app = web.Application()
    app.router.add_post("/submit", submit)
    return app


def body(n: int, with_photo: bool) -> aiohttp.FormData:
    from gateway.core.security import Signer
    from gateway.web.portal.tokens import issue_form_token

    form = aiohttp.FormData(quote_fields=False, default_to_multipart=True)
    for k, v in {
        "token": issue_form_token(Signer(KEY.encode())),
        "kind": "complaint",
        "service": "",
        "subject": "رفتار نامناسب در باجه",
        "text": TEXT,
        "email": f"c{n}@citizen.example",
        "mobile": "",
        "answer": "email",
        "website": "",
    }.items():
        form.add_field(k, v)
    if with_photo:
        import io

        form.add_field("files", io.BytesIO(PHOTO), filename="باجه.jpg", content_type="image/jpeg")
    return form


async def load(port: int, seconds: float, connections: int, with_photo: bool) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, errors) for ``seconds`` of closed-loop load."""

    async def submit(session: aiohttp.ClientSession, n: int) -> bool:
        url = f"http://127.0.0.1:{port}/submit"
        async with session.post(url, data=body(n, with_photo), allow_redirects=False) as r:
            await r.read()
            return r.status == 303

    return await closed_loop(submit, seconds, connections)


async def start_server(kind: str, port: int, workdir: str) -> asyncio.subprocess.Process:
    return await start_script_server(__file__, kind, port, workdir)


async def main(seconds: float, connections: int) -> None:
    from tests.peers import free_port

    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        for kind in ("bare", "gateway"):
            port = free_port()
            run_dir = Path(workdir) / kind
            run_dir.mkdir()
            proc = await start_server(kind, port, str(run_dir))
            try:
                for photo in (False, True):
                    await load(port, 1.0, connections, photo)  # warm-up
                    results[kind, photo] = await load(port, seconds, connections, photo)
            finally:
                proc.terminate()
                await proc.wait()
    for photo in (False, True):
        label = "200 KB photo" if photo else "no attachment"
        for kind in ("bare", "gateway"):
            rps, p50, p99, errors = results[kind, photo]
            print(
                f"{label:14s} {kind:8s} {rps:7.1f} submissions/s  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  errors {errors}"
            )
        ratio = results["gateway", photo][0] / results["bare", photo][0]
        print(f"{label:14s} gateway/bare: {ratio:.0%}  ({connections} connections, {seconds:.0f} s)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        kind, port, workdir = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        try:
            asyncio.run(run_app(bare_app(workdir), port) if kind == "bare" else serve_gateway(port, workdir))
        except KeyboardInterrupt:
            pass
        sys.exit(0)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--connections", type=int, default=20)
    args = ap.parse_args()
    asyncio.run(main(args.seconds, args.connections))
