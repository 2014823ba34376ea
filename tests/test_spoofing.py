"""Who a mail is from, and what names staff see (issue 18, items 17 and 18).

17: the sender address comes from the raw From header; only the display name is decoded,
so an RFC 2047 name cannot supply the address the acknowledgement goes to.
18: Unicode format characters (U+202E and the rest of category Cf, but ZWNJ) leave
attachment names and subjects, so ``invoice\u202efdp.exe`` cannot show as "invoiceexe.pdf".
Each case goes through ``import-eml``'s intake into the database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.channels.email.importer import import_mails
from gateway.channels.email.parse import parse_mail
from gateway.core.context import GatewayContext
from gateway.core.models import Attachment, Case, Message, Outbox
from gateway.core.store import safe_filename
from gateway.core.text import FORMAT_CHARS, normalize, strip_format


def mail(from_header: str, subject: str = "درخواست", extra: str = "", body: str = "متن درخواست شهروند") -> bytes:
    return (
        f"From: {from_header}\r\nTo: feedback@example.ir\r\nSubject: {subject}\r\n"
        f"Message-ID: <{abs(hash((from_header, subject, extra)))}@example.ir>\r\n{extra}"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


# (From header as sent, expected sender address, expected display name)
SENDERS = [
    pytest.param(
        "=?utf-8?q?victim=40example=2Eir?= <attacker@evil.ir>",
        "attacker@evil.ir",
        "victim@example.ir",
        id="encoded-name-looks-like-an-address",
    ),
    pytest.param("=?utf-8?b?PHZpY3RpbUBleGFtcGxlLmlyPg==?=", None, None, id="encoded-angle-address-only"),
    pytest.param("=?utf-8?q?victim=40example.ir?=", None, None, id="encoded-bare-address-only"),
    pytest.param("Ali <=?utf-8?q?victim=40example.ir?=>", None, "Ali", id="encoded-word-inside-angle-brackets"),
    pytest.param(
        "=?utf-8?b?2LnZhNuMINix2LbYp9uM24w=?= <ali@example.ir>",
        "ali@example.ir",
        "علی رضایی",
        id="persian-encoded-name",
    ),
    pytest.param('"=?utf-8?q?Ali_R?=" <ali@example.ir>', "ali@example.ir", "Ali R", id="quoted-encoded-name"),
    pytest.param("ali@example.ir", "ali@example.ir", None, id="bare-address"),
    pytest.param("علی <علی@example.ir>", "علی@example.ir", "علی", id="utf8-address-smtputf8"),
]


@pytest.mark.parametrize("from_header, address, name", SENDERS)
def test_sender_parse(from_header: str, address: str | None, name: str | None) -> None:
    parsed = parse_mail(mail(from_header))
    assert (parsed.sender, parsed.sender_name) == (address, name)


@pytest.mark.parametrize("from_header, address, name", SENDERS[:4])
async def test_the_acknowledgement_never_goes_to_an_encoded_name(
    ctx: GatewayContext, tmp_path: Path, from_header: str, address: str | None, name: str | None
) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(mail(from_header))
    await import_mails(ctx, [path], acknowledge=True, show_progress=False)
    async with ctx.db.session() as s:
        recipients = list((await s.execute(select(Outbox.recipient))).scalars())
        contacts = list((await s.execute(select(Case.contact))).scalars())
    assert "victim@example.ir" not in recipients and "victim@example.ir" not in contacts
    assert all(r == address for r in recipients)


RLO = "\u202e"
# (subject, attachment name) as sent -> what staff see
NAMES = [
    pytest.param(f"invoice{RLO}fdp.exe", f"invoice{RLO}fdp.exe", "invoicefdp.exe", "invoicefdp.exe", id="rlo"),
    pytest.param("a\u2066b\u2069c\u200bd", "x\u2067y\u202az.pdf", "abcd", "xyz.pdf", id="isolates-zero-width"),
    pytest.param("s\u00ad\u061c\u2060\ufeffe", "f\U000e0041\U000e007fg.txt", "se", "fg.txt", id="soft-hyphen-alm-tags"),
    pytest.param("می\u200cخواهم", "نامه\u200cها.pdf", "می\u200cخواهم", "نامه\u200cها.pdf", id="zwnj-kept"),
]


@pytest.mark.parametrize("subject, filename, shown_subject, shown_name", NAMES)
async def test_format_characters_leave_subjects_and_attachment_names(
    ctx: GatewayContext, tmp_path: Path, subject: str, filename: str, shown_subject: str, shown_name: str
) -> None:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "ali@example.ir", "feedback@example.ir", subject
    msg["Message-ID"] = f"<{abs(hash(subject))}@example.ir>"
    msg.set_content("پیوست را ببینید")
    msg.add_attachment(b"%PDF-1.4 x", maintype="application", subtype="octet-stream", filename=filename)
    path = tmp_path / "m.eml"
    path.write_bytes(bytes(msg))
    await import_mails(ctx, [path], show_progress=False)
    async with ctx.db.session() as s:
        case = (await s.execute(select(Case))).scalar_one()
        message = (await s.execute(select(Message))).scalar_one()
        attachment = (await s.execute(select(Attachment))).scalar_one()
    assert case.subject == shown_subject and message.subject == shown_subject
    assert attachment.filename == shown_name


def test_format_set_is_all_of_category_cf_but_zwnj() -> None:
    matcher = re.compile(f"[{FORMAT_CHARS}]")
    cf = {chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf"}
    assert {c for c in cf if not matcher.match(c)} == {"\u200c"}
    assert strip_format("a\u202eb\u200cc") == "ab\u200cc"
    assert normalize(f"کد{RLO} رهگیری") == "کد رهگیری" and safe_filename(f"a{RLO}.pdf") == "a.pdf"
