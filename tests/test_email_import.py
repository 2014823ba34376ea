"""``gateway import-eml``: .eml files, maildirs and folders; idempotent by Message-ID; a
summary line; no acknowledgements unless ``--ack``.
"""

from __future__ import annotations

import mailbox
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.channels.email.importer import find_mails, import_mails
from gateway.cli import main
from gateway.core.config import Config
from gateway.core.context import GatewayContext
from gateway.core.models import Case, Outbox

CORPUS = Path(__file__).parent / "fixtures" / "mail"


def write_toml(config: Config, path: Path) -> Path:
    path.write_text(f'[gateway]\ndatabase_url = "{config.gateway.database_url}"\n'
                    f'data_dir = "{config.gateway.data_dir}"\n'
                    '[[units]]\ncode = "pr"\nname = "روابط عمومی"\n'
                    '[[units]]\ncode = "oversight"\nname = "بازرسی"\n', encoding="utf-8")
    return path


def test_find_mails_reads_files_maildirs_and_folders(tmp_path: Path) -> None:
    box = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    box.add(b"Subject: a\r\n\r\nx\r\n")
    box.add(b"Subject: b\r\n\r\ny\r\n")
    single = tmp_path / "one.eml"
    shutil.copy(CORPUS / "forwarded.eml", single)
    found = find_mails([str(tmp_path / "Maildir"), str(single), str(CORPUS)])
    assert len(found) == 2 + 1 + len(list(CORPUS.glob("*.eml")))
    with pytest.raises(FileNotFoundError):
        find_mails([str(tmp_path / "missing")])


async def test_import_is_idempotent_and_silent(ctx: GatewayContext) -> None:
    files = sorted(CORPUS.glob("*.eml"))
    first = await import_mails(ctx, files, show_progress=False)
    second = await import_mails(ctx, files, show_progress=False)
    assert sum(first.values()) == len(files) and "error" not in first
    assert second == {"duplicate": len(files)}
    async with ctx.db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Case)) == first["created"]
        assert await s.scalar(select(func.count()).select_from(Outbox)) == 0  # history: no acks


def test_cli_import_eml(config: Config, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = write_toml(config, tmp_path / "gateway.toml")
    files = [str(CORPUS / "persian_windows1256.eml"), str(CORPUS / "mailing_list.eml")]
    assert main(["-c", str(toml), "import-eml", "--quiet", *files]) == 0
    assert "imported 2 file(s): created 1, ignored 1" in capsys.readouterr().out
    assert main(["-c", str(toml), "import-eml", "--quiet", *files]) == 0
    assert "duplicate 2" in capsys.readouterr().out
    assert main(["-c", str(toml), "import-eml", str(tmp_path / "nope")]) == 3
