"""Real-world mail that used to go wrong (issue 18, items 1-5, 7, 10-12): one labelled case per
mail in tests/fixtures/mail/hardening/ (written by make_hardening.py), each parsed and taken
in through the real intake on SQLite or PostgreSQL, with what must be stored and what must
(not) be answered.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.channels.email.inbound import Envelope, MailIntake
from gateway.channels.email.parse import MailLimits, parse_mail
from gateway.core.context import GatewayContext
from gateway.core.messages import Outcome
from gateway.core.models import Attachment, Case, Message, Outbox

HARDENING = Path(__file__).parent / "fixtures" / "mail" / "hardening"
_spec = importlib.util.spec_from_file_location("make_hardening", HARDENING.parent / "make_hardening.py")
make_hardening = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
_spec.loader.exec_module(make_hardening)  # type: ignore[union-attr]


@dataclass(frozen=True)
class Expect:
    outcome: Outcome
    automatic: str | None = None
    text_has: str = ""
    text_is: str | None = None
    subject: str | None = None
    sender_name: str | None = None
    attachments: tuple[str, ...] = ()


ROBOT = Expect(Outcome.IGNORED, "robot-sender")
SUBJECT = Expect(Outcome.IGNORED, "auto-reply-subject")
CASES: dict[str, Expect] = {
    # item 1: robots without Auto-Submitted/Precedence are not answered and open no case
    "robot_mailer_daemon_null": ROBOT,
    "robot_from_null": ROBOT,
    "robot_domainless_daemon": ROBOT,
    "robot_post_master": ROBOT,
    "robot_no_reply": ROBOT,
    "robot_list_admin": ROBOT,
    "robot_list_owner": ROBOT,
    "robot_list_request": ROBOT,
    "robot_list_bounces": ROBOT,
    "robot_subject_auto_reply": SUBJECT,
    "robot_subject_automatic_reply": SUBJECT,
    "robot_subject_out_of_office": SUBJECT,
    "robot_subject_german": SUBJECT,
    "robot_subject_french": SUBJECT,
    "robot_subject_persian": SUBJECT,
    "robot_list_notice_subject": Expect(Outcome.IGNORED, "list-notice"),
    "robot_list_administrivia": Expect(Outcome.IGNORED, "x-list-administrivia"),
    "robot_arf_in_mixed": Expect(Outcome.IGNORED, "report"),
    # ... and people whose mail only looks a little like that are answered
    "person_admin_address": Expect(Outcome.CREATED, text_has="نیمکت"),
    "person_subject_mentions_auto_reply": Expect(Outcome.CREATED, text_has="کد نداشت"),
    # item 2: a mail that is one file keeps the file; TNEF is unpacked
    "only_image": Expect(Outcome.CREATED, text_is="", attachments=("photo.png",)),
    "only_gzip": Expect(Outcome.CREATED, text_is="", attachments=("attachment-0.gz",)),
    "only_octet_stream": Expect(Outcome.CREATED, text_is="", attachments=("scan.tif",)),
    "only_winmail": Expect(Outcome.CREATED, text_is="لامپ خیابان ۱۲ سوخته است.", attachments=("report.pdf",)),
    "winmail_in_mixed": Expect(Outcome.CREATED, text_is="گزارش پیوست است.", attachments=("report.pdf",)),
    # item 3: NUL characters are dropped (PostgreSQL refuses them)
    "nul_in_body": Expect(Outcome.CREATED, text_has="نویسهٔ تهی"),
    "nul_in_headers": Expect(Outcome.CREATED, text_is="متن سالم", subject="موضوع تهی", sender_name="Nul Name"),
    # item 4: a blank text/plain does not hide the HTML alternative
    "blank_plain_hides_html": Expect(Outcome.CREATED, text_is="جوی آب خیابان ۵ گرفته است."),
    # item 5: a subject alone is content; nothing at all gets the help reply
    "subject_only": Expect(Outcome.CREATED, text_is="چراغ راهنمایی چهارراه خراب است"),
    "nothing_at_all": Expect(Outcome.REJECTED, text_is=""),
    # item 8 (parsing side; the SMTP side is in test_email_smtp_hardening.py)
    "long_line": Expect(Outcome.CREATED, text_has="پایان"),
    # item 10: CR-only line ends
    "cr_only": Expect(Outcome.CREATED, text_is="سطر اول\nسطر دوم", subject="خط‌های CR", sender_name="Citizen"),
    # item 12: the three exceptions fuzzing found now give cases
    "fuzz_nul_in_charset": Expect(Outcome.CREATED, text_is="سلام", subject="سلام"),
    "fuzz_rfc822_8bit": Expect(Outcome.CREATED, text_is="نامه پیوست است.", attachments=("attachment-1.eml",)),
    "fuzz_header_breaks_nuls": Expect(Outcome.CREATED, text_is="نامه پیوست است.", attachments=("attachment-1.eml",)),
    "fuzz_nul_in_content_type": Expect(Outcome.CREATED, text_is="", attachments=("attachment-0.bin",)),
}


def test_every_fixture_has_a_case() -> None:
    assert sorted(p.stem for p in HARDENING.glob("*.eml")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
async def test_hardening_mail(ctx: GatewayContext, name: str) -> None:
    expect, raw = CASES[name], (HARDENING / f"{name}.eml").read_bytes()
    intake = MailIntake(ctx)
    envelope = Envelope("smtp", "sender@example.net", ["feedback@example.ir"])
    message, mail = intake.build(raw, envelope)
    assert mail.automatic == expect.automatic
    assert expect.text_has in message.text and "\r" not in message.text
    if expect.text_is is not None:
        assert message.text == expect.text_is
    if expect.subject is not None:
        assert message.subject == expect.subject
    if expect.sender_name is not None:
        assert message.sender_name == expect.sender_name
    assert tuple(a.filename for a in message.attachments) == expect.attachments
    result = await intake.ingest(raw, envelope)
    assert result.outcome is expect.outcome, result.reason
    async with ctx.db.session() as s:
        rows = list((await s.execute(select(Outbox))).scalars())
        stored = list((await s.execute(select(Message.text, Message.subject, Message.sender))).all())
        files = list((await s.execute(select(Attachment.filename))).scalars())
    acks = [r for r in rows if r.purpose == "ack"]
    assert len(acks) == (1 if expect.outcome is Outcome.CREATED else 0)
    if expect.outcome is Outcome.CREATED:
        assert any("\0" not in (t or "") + (subj or "") for t, subj, _ in stored)
        assert sorted(files) == sorted(expect.attachments)
    if expect.automatic:
        assert rows == []  # never answered


async def test_help_reply_has_subject_and_threads(ctx: GatewayContext) -> None:
    """Item 5: the help reply to an empty mail answers it: a subject and In-Reply-To."""
    raw = (HARDENING / "nothing_at_all.eml").read_bytes()
    result = await MailIntake(ctx).ingest(raw, Envelope("smtp", "citizen@example.org"))
    assert (result.outcome, result.reason) == (Outcome.REJECTED, "empty")
    async with ctx.db.session() as s:
        [help_row] = list((await s.execute(select(Outbox))).scalars())
    assert help_row.purpose == "help" and help_row.subject == "پاسخ سامانهٔ پیام‌های مردمی"
    assert help_row.payload["in_reply_to"] == "<empty@example.org>"
    assert help_row.payload["references"] == ["<empty@example.org>"]


@pytest.mark.parametrize(
    "shape,reason",
    [
        ({"depth": 2000}, "too_deep"),
        ({"parts": 3000}, "too_many_parts"),
    ],
    ids=["nested_2000_deep", "three_thousand_parts"],
)
async def test_heavy_mail_is_kept_whole_as_a_case(ctx: GatewayContext, shape: dict[str, int], reason: str) -> None:
    """Item 7: beyond the bounds the mail is kept whole (original.eml) with the reason, as a case."""
    raw = make_hardening.heavy_mail(**shape)
    mail = parse_mail(raw, MailLimits())
    assert mail.kept_whole == reason and reason in mail.text
    assert [(a.filename, a.data) for a in mail.attachments] == [("original.eml", raw)]
    assert mail.sender == "citizen@example.org" and mail.subject == "heavy"
    result = await MailIntake(ctx).ingest(raw, Envelope("smtp", "citizen@example.org"))
    assert result.outcome is Outcome.CREATED
    async with ctx.db.session() as s:
        message = (await s.execute(select(Message).where(Message.direction == "in"))).scalar_one()
        assert message.meta["kept_whole"] == reason
        assert await s.scalar(select(Outbox.purpose)) == "ack"


async def test_attachment_cap_keeps_the_original(ctx: GatewayContext) -> None:
    """Item 11: past max_attachments the files are not stored one by one; original.eml has them."""
    raw = make_hardening.heavy_mail(attachments=250)
    message, mail = MailIntake(ctx).build(raw, Envelope("smtp"))
    names = [a.filename for a in message.attachments]
    assert len(names) == 201 and names[0] == "f0.txt" and names[-1] == "original.eml"
    assert message.meta["kept_whole"] == "over_attachment_cap:50"
    assert message.text.startswith("متن اصلی نامه")


def test_decoded_size_cap() -> None:
    raw = make_hardening.heavy_mail(attachments=10)
    mail = parse_mail(raw, MailLimits(decoded_bytes=29))  # "part N" is 6 bytes
    assert [a.filename for a in mail.attachments] == ["f0.txt", "f1.txt", "f2.txt", "f3.txt", "original.eml"]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\0\0\0",
        b"Content-Type: multipart/mixed; boundary=\0\r\n\r\n--\0\r\n\r\n\xff\r\n",
        b"From: =?\0?B?\0?=\r\nSubject: =?utf-7?Q?+2D3-?=\r\n\r\nx",
    ],
    ids=["empty", "only_nuls", "nul_boundary", "nul_charset_and_lone_surrogate"],
)
def test_parse_mail_never_raises_and_stores(raw: bytes) -> None:
    mail = parse_mail(raw)
    for value in (mail.text, mail.subject, mail.sender_name or "", *mail.headers.values()):
        assert "\0" not in value
        value.encode("utf-8")  # no lone surrogates: PostgreSQL could not store them


async def test_case_of_nul_mail_reads_back(ctx: GatewayContext) -> None:
    """Item 3 on the database itself (PostgreSQL refused the insert before)."""
    raw = (HARDENING / "nul_in_headers.eml").read_bytes()
    result = await MailIntake(ctx).ingest(raw, Envelope("smtp"))
    async with ctx.db.session() as s:
        case = await s.get(Case, result.case_id)
        assert case.subject == "موضوع تهی" and case.contact_name == "Nul Name"
