"""Private files (issue 18, item 19): the data folder is 0700; the SQLite database, its
WAL and shared-memory files and every outbox file are 0600, also under a umask of 022 and
also when an older version left them readable."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from gateway.core.db import Database
from gateway.core.messages import Channel, OutboundMessage
from gateway.core.private import private_dir, write_private
from gateway.core.senders import FileSender

ROOT = Path(__file__).resolve().parent.parent


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask, under which files came out 0644 and folders 0755."""
    old = os.umask(0o022)
    yield
    os.umask(old)


async def test_sqlite_database_wal_and_shm_are_private(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "gateway.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x TEXT)"))
            await conn.execute(text("INSERT INTO t VALUES ('a citizen''s text')"))
        files = {p.name: mode(p) for p in tmp_path.iterdir()}
    finally:
        await db.dispose()
    assert {"gateway.db", "gateway.db-wal", "gateway.db-shm"} <= set(files)
    assert files == {name: 0o600 for name in files}


async def test_readable_files_of_an_older_version_are_tightened(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "gateway.db"
    first = Database(f"sqlite+aiosqlite:///{path}")
    async with first.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (x TEXT)"))
    await first.dispose()
    for p in tmp_path.iterdir():
        os.chmod(p, 0o644)
    again = Database(f"sqlite+aiosqlite:///{path}")
    async with again.engine.connect() as conn:  # tightened as a connection opens
        await conn.execute(text("SELECT 1"))
    await again.dispose()
    assert all(mode(p) == 0o600 for p in tmp_path.iterdir())


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.EMAIL, Channel.VOICE])
async def test_outbox_files_are_private(tmp_path: Path, open_umask: None, channel: Channel) -> None:
    sender = FileSender(tmp_path / "outbox")
    message = OutboundMessage(
        outbox_id=1,
        channel=channel,
        purpose="ack",
        recipient="+989121234567",
        subject="",
        text="کد رهگیری شما",
        idempotency_key="gw-key-1",
        case_code="1403090012",
    )
    await sender.send(message)
    await sender.send(message)  # a resend rewrites the file: still private
    [written] = list((tmp_path / "outbox" / channel.value).iterdir())
    assert mode(written) == 0o600 and mode(tmp_path / "outbox" / channel.value) == 0o700


def test_private_dir_and_write_private(tmp_path: Path, open_umask: None) -> None:
    old = tmp_path / "var"
    old.mkdir(mode=0o755)
    assert mode(private_dir(old)) == 0o700
    target = old / "a.json"
    target.write_text("{}")
    os.chmod(target, 0o644)
    write_private(target, b"{}")  # replaced by a private file
    assert mode(target) == 0o600 and target.read_bytes() == b"{}"


async def test_eml_outbox_files_are_private(tmp_path: Path, open_umask: None) -> None:
    from gateway.channels.email.sender import EmlFolderSender
    from gateway.core.config import EmailSection

    sender = EmlFolderSender(EmailSection(), tmp_path / "outbox" / "email")
    message = OutboundMessage(
        outbox_id=1,
        channel=Channel.EMAIL,
        purpose="ack",
        recipient="ali@example.ir",
        subject="کد رهگیری",
        text="درخواست شما ثبت شد",
        idempotency_key="<k1@feedback.example.ir>",
        case_code="1403090012",
    )
    await sender.send(message)
    [written] = list((tmp_path / "outbox" / "email").iterdir())
    assert written.suffix == ".eml" and mode(written) == 0o600
    assert mode(tmp_path / "outbox" / "email") == 0o700


def test_gateway_init_and_import_make_private_files(tmp_path: Path, db_url: str) -> None:
    """The real command under umask 022: the data folder (and the SQLite file) private."""
    conf = tmp_path / "gw.toml"
    conf.write_text(
        f'[gateway]\ndatabase_url = "{db_url}"\ndata_dir = "var"\n[email.smtp]\nenabled = false\n', encoding="utf-8"
    )
    mail = tmp_path / "m.eml"
    mail.write_bytes(
        "From: Ali <ali@example.ir>\r\nTo: feedback@example.ir\r\nSubject: خیابان\r\n"
        "Message-ID: <m1@example.ir>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "چراغ کوچه خاموش است\r\n".encode()
    )

    def run(*args: str) -> None:
        r = subprocess.run(
            [sys.executable, "-m", "gateway", "--config", str(conf), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=lambda: os.umask(0o022),
        )
        assert r.returncode == 0, r.stderr

    run("init")
    run("import-eml", "--quiet", str(mail))
    var = tmp_path / "var"
    assert mode(var) == 0o700
    if db_url.startswith("sqlite"):
        db_file = Path(db_url.split(":///", 1)[1])
        assert mode(db_file) == 0o600
