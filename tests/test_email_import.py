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
from gateway.channels.email.inbound import Envelope, MailIntake
from gateway.cli import main
from gateway.core.config import Config
from gateway.core.context import GatewayContext
from gateway.core.models import Case, Outbox

CORPUS = Path(__file__).parent / "fixtures" / "mail"


def write_toml(config: Config, path: Path) -> Path:
    path.write_text(
        f'[gateway]\ndatabase_url = "{config.gateway.database_url}"\n'
        f'data_dir = "{config.gateway.data_dir}"\n'
        '[[units]]\ncode = "pr"\nname = "روابط عمومی"\n'
        '[[units]]\ncode = "oversight"\nname = "بازرسی"\n',
        encoding="utf-8",
    )
    return path


def test_find_mails_reads_files_maildirs_and_folders(tmp_path: Path) -> None:
    box = mailbox.Maildir(str(tmp_path / "Maildir"), create=True)
    box.add(b"Subject: a\r\n\r\nx\r\n")
    box.add(b"Subject: b\r\n\r\ny\r\n")
    single = tmp_path / "one.eml"
    shutil.copy(CORPUS / "forwarded.eml", single)
    folder = mixed_folder(tmp_path / "saved")
    found = find_mails([str(tmp_path / "Maildir"), str(single), str(folder)])
    assert len(found) == 2 + 1 + 5  # every file of a folder, whatever its name
    with pytest.raises(FileNotFoundError):
        find_mails([str(tmp_path / "missing")])


def mixed_folder(folder: Path) -> Path:
    """Mail saved by hand: names without .eml, a .txt that is a mail, files that are not mail."""
    (folder / "sub").mkdir(parents=True)
    shutil.copy(CORPUS / "forwarded.eml", folder / "a.eml")
    shutil.copy(CORPUS / "persian_windows1256.eml", folder / "Message from Reza")
    shutil.copy(CORPUS / "html_only_rtl.eml", folder / "sub" / "saved.txt")
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    (folder / "empty").write_bytes(b"")
    return folder


@pytest.mark.parametrize(
    "names,counts,problems",
    [
        (["a.eml", "Message from Reza", "sub/saved.txt"], {"created": 3}, []),
        (["notes.pdf", "empty"], {"not_mail": 2}, ["notes.pdf: not a mail", "empty: not a mail"]),
    ],
    ids=["mail_under_any_name", "not_mail_is_reported"],
)
async def test_import_names_what_it_did_not_take(
    ctx: GatewayContext, tmp_path: Path, names: list[str], counts: dict[str, int], problems: list[str]
) -> None:
    folder = mixed_folder(tmp_path / "saved")
    report = await import_mails(ctx, [folder / n for n in names], show_progress=False)
    assert dict(report.counts) == counts
    assert [f"{p.name}: {why}" for p, why in report.problems] == problems


async def test_import_names_a_failing_file(
    ctx: GatewayContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 3: a mail the database refuses is reported by its file name, the rest go in."""
    folder = mixed_folder(tmp_path / "saved")
    real = MailIntake.ingest

    async def refuse_one(self: MailIntake, raw: bytes, envelope: Envelope) -> object:
        if b"cp1256-1@example.org" in raw:
            raise ValueError("the database refused it")
        return await real(self, raw, envelope)

    monkeypatch.setattr(MailIntake, "ingest", refuse_one)
    report = await import_mails(ctx, [folder / "a.eml", folder / "Message from Reza"], show_progress=False)
    assert dict(report.counts) == {"created": 1, "error": 1}
    assert [(p.name, why) for p, why in report.problems] == [("Message from Reza", "error (ValueError)")]


def test_cli_import_folder_reports_what_is_not_mail(
    config: Config, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 9: not "imported 0 file(s)" with exit 0 any more."""
    toml = write_toml(config, tmp_path / "gateway.toml")
    folder = mixed_folder(tmp_path / "saved")
    assert main(["-c", str(toml), "import-eml", "--quiet", str(folder)]) == 1
    out = capsys.readouterr()
    assert "imported 5 file(s): created 3, not_mail 2" in out.out
    assert "notes.pdf: not a mail" in out.err and "empty: not a mail" in out.err
    (tmp_path / "nothing").mkdir()
    assert main(["-c", str(toml), "import-eml", "--quiet", str(tmp_path / "nothing")]) == 1


async def test_import_is_idempotent_and_silent(ctx: GatewayContext) -> None:
    files = sorted(CORPUS.glob("*.eml"))
    first = (await import_mails(ctx, files, show_progress=False)).counts
    second = (await import_mails(ctx, files, show_progress=False)).counts
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
