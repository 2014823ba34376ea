"""The blob store (gateway.core.blobs) and the shared signing key: what one process stores
or signs, another process on the same database reads or verifies."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.core.blobs import DatabaseBlobs, make_blob_store
from gateway.core.db import Database
from gateway.core.messages import Channel, InboundAttachment, InboundMessage, Outcome
from gateway.core.models import Attachment
from gateway.core.runtime import running_context
from gateway.core.shared_tables import Blob
from gateway.core.store import FileStore


@pytest.mark.parametrize("backend", ["folder", "database"])
async def test_put_get_by_content(db_url: str, tmp_path: Path, backend: str) -> None:
    writer_db, reader_db = Database(db_url), Database(db_url)  # two processes' connections
    try:
        a = make_blob_store(backend, writer_db, FileStore(tmp_path / "files"))
        b = make_blob_store(backend, reader_db, FileStore(tmp_path / "files"))
        data = b"\x00RIFF audio \xff" * 1000
        digest = await a.put(data)
        assert digest == hashlib.sha256(data).hexdigest()
        assert await a.put(data) == digest  # the same bytes twice: one blob
        assert await b.get(digest) == data
        with pytest.raises(FileNotFoundError):
            await b.get("0" * 64)
        with pytest.raises(ValueError):
            await b.get("../../etc/passwd")
    finally:
        await writer_db.dispose()
        await reader_db.dispose()


async def test_auto_is_the_database_on_postgresql_and_the_folder_on_sqlite(db_url: str, tmp_path: Path) -> None:
    db = Database(db_url)
    try:
        store = make_blob_store("auto", db, FileStore(tmp_path))
        assert isinstance(store, DatabaseBlobs) != db.is_sqlite
    finally:
        await db.dispose()


async def test_files_from_before_the_switch_are_still_read(db_url: str, tmp_path: Path) -> None:
    db = Database(db_url)
    try:
        old = FileStore(tmp_path / "files")
        digest = await old.put(b"written by the folder store")
        assert await DatabaseBlobs(db, fallback=old).get(digest) == b"written by the folder store"
    finally:
        await db.dispose()


async def test_intake_stores_attachments_and_long_texts_in_the_database(make_config, tmp_path: Path) -> None:
    """With blob_store = database, a second process (own data_dir) reads what the first stored."""
    first = make_config(gateway={"blob_store": "database"})
    second = make_config(gateway={"blob_store": "database", "data_dir": str(tmp_path / "other")})
    async with (
        running_context(first, migrate=False, dispatch=False) as a,
        running_context(second, migrate=False, dispatch=False) as b,
    ):
        audio, text = b"RIFF....WAVE" * 500, "متن بلند " * 4000
        res = await a.intake.submit(
            InboundMessage(
                Channel.VOICE,
                text,
                sender="+989121234567",
                external_id="call-blob",
                attachments=[InboundAttachment("call.wav", "audio/wav", audio)],
            )
        )
        assert res.outcome is Outcome.CREATED
        async with b.db.read_session() as s:
            atts = {x.filename: x.sha256 for x in (await s.execute(select(Attachment))).scalars()}
            blobs = (await s.execute(select(func.count()).select_from(Blob))).scalar()
        assert set(atts) == {"call.wav", "message.txt"} and blobs == 2
        assert await b.store.get(atts["call.wav"]) == audio
        assert (await b.store.get(atts["message.txt"])).decode() == text.strip()
        assert not (tmp_path / "var" / "files").exists()  # nothing went to a local folder


async def test_the_signing_key_is_made_once_and_shared(make_config, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("GATEWAY_SECRET_KEY", raising=False)
    first = make_config()
    second = make_config(gateway={"data_dir": str(tmp_path / "other")})
    async with (
        running_context(first, migrate=False, dispatch=False) as a,
        running_context(second, migrate=False, dispatch=False) as b,
    ):
        token = a.signer.sign("survey", {"i": 7})
        assert b.signer.verify("survey", token) == {"i": 7}
    assert not (tmp_path / "var" / "secret.key").exists()


async def test_an_old_secret_key_file_seeds_the_shared_key(make_config, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("GATEWAY_SECRET_KEY", raising=False)
    (tmp_path / "var").mkdir(parents=True, exist_ok=True)
    (tmp_path / "var" / "secret.key").write_text("an-older-install-key\n")
    async with running_context(make_config(), migrate=False, dispatch=False) as a:
        from gateway.core.security import Signer

        old = Signer(b"an-older-install-key")
        assert a.signer.verify("survey", old.sign("survey", {"i": 1})) == {"i": 1}


async def test_the_environment_key_wins(make_config, monkeypatch) -> None:
    monkeypatch.setenv("GATEWAY_SECRET_KEY", "from-the-environment")
    async with running_context(make_config(), migrate=False, dispatch=False) as a:
        from gateway.core.security import Signer

        assert a.signer.mac("x", "y") == Signer(b"from-the-environment").mac("x", "y")
        assert await a.state.get("gateway:signing-key") is None
