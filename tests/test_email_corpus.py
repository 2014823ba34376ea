"""The tricky-mail corpus (tests/fixtures/mail/) with the expected outcome of each mail.

Every mail is parsed and ingested through the real intake on a fresh database in which one
citizen (citizen@example.org) already has a case and an acknowledgement from us; ``OUR-ID``
in a fixture becomes that acknowledgement's Message-ID and ``CODE`` its tracking code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.channels.email.inbound import Envelope, MailIntake
from gateway.core.context import GatewayContext
from gateway.core.messages import Outcome
from gateway.core.models import Case, Outbox

CORPUS = Path(__file__).parent / "fixtures" / "mail"


@dataclass(frozen=True)
class Expect:
    outcome: Outcome
    text_has: str = ""
    subject: str | None = None
    sender: str | None = "citizen@example.org"
    sender_name: str | None = None
    automatic: str | None = None
    defect: str | None = None
    attachments: tuple[str, ...] = ()
    inline: bool = False
    bounce_marks_failed: bool = False
    related_to_seed: bool = False
    text_is: str | None = None
    envelope_from: str | None = None
    not_in_text: tuple[str, ...] = field(default=())


CASES: dict[str, Expect] = {
    "persian_windows1256": Expect(
        Outcome.CREATED, "آسفالت کوچه ما خراب", sender="reza@example.org", sender_name="رضا احمدي"
    ),
    "rfc2047_split_subject": Expect(Outcome.CREATED, "متن پیام", subject="شکایت درباره خدمات"),
    "broken_boundary": Expect(
        Outcome.CREATED, "درخواست ترمیم جاده روستا", defect="StartBoundaryNotFoundDefect", not_in_text=("Content-Type",)
    ),
    "missing_headers": Expect(
        Outcome.CREATED, "بدون هیچ سرآیندی", sender="anon@example.org", envelope_from="anon@example.org"
    ),
    "eight_bit_utf8_headers": Expect(
        Outcome.CREATED, "نیمکت", subject="پیشنهاد برای پارک", sender="maryam@example.org", sender_name="مریم"
    ),
    "eight_bit_cp1256_subject": Expect(
        Outcome.CREATED, "برخورد نامناسب", subject="انتقاد از برخورد کارمند", sender="ali@example.org"
    ),
    "base64_garbage": Expect(Outcome.CREATED, "گزارش تخلف در اداره", defect="InvalidBase64CharactersDefect"),
    "out_of_office": Expect(Outcome.APPENDED, "out of the office", automatic="auto-submitted"),
    "postfix_bounce": Expect(
        Outcome.IGNORED,
        "could not",
        sender="MAILER-DAEMON@mx.example.org",
        sender_name="Mail Delivery System",
        automatic="auto-submitted",
        bounce_marks_failed=True,
    ),
    "exchange_bounce": Expect(
        Outcome.IGNORED,
        "Delivery has failed",
        sender="postmaster@corp.example.com",
        automatic="x-ms-exchange-generated-message-source",
        bounce_marks_failed=True,
        attachments=("attachment-3.eml",),
    ),
    "outlook_reply": Expect(
        Outcome.CREATED,
        sender="sara@example.org",
        sender_name="Sara",
        text_is="مدارک تکمیلی را فرستادم.",
        related_to_seed=True,
    ),
    "html_only_rtl": Expect(Outcome.CREATED, "مورد یک", not_in_text=("alert", "color:red", "<p>")),
    "related_inline_image": Expect(Outcome.CREATED, "عکس چاله", attachments=("attachment-1.png",), inline=True),
    "forwarded": Expect(Outcome.CREATED, "آب محله سه روز است قطع است", attachments=("attachment-0.eml",)),
    "path_traversal_attachment": Expect(Outcome.CREATED, "نامه پیوست است", attachments=("passwd", "نامه.pdf")),
    "iso_8859_6_i": Expect(Outcome.CREATED, "سلام عليكم"),
    "mailing_list": Expect(Outcome.IGNORED, "News", sender="news@lists.example.org", automatic="precedence"),
    "unknown_charset": Expect(Outcome.CREATED, "درخواست پاسخ"),
}


async def seed_case(ctx: GatewayContext, intake: MailIntake) -> tuple[Case, str]:
    """citizen@example.org's case and the Message-ID of our acknowledgement."""
    first = (
        b"From: citizen@example.org\r\nTo: feedback@example.ir\r\nSubject: seed\r\n"
        b"Message-ID: <seed@example.org>\r\n\r\nseed message\r\n"
    )
    result = await intake.ingest(first, Envelope("smtp", "citizen@example.org"))
    async with ctx.db.session() as s:
        case = await s.get(Case, result.case_id)
        key = (await s.execute(select(Outbox.idempotency_key).where(Outbox.case_id == case.id))).scalar_one()
    return case, key


@pytest.mark.parametrize("name", sorted(CASES))
async def test_corpus_mail(ctx: GatewayContext, name: str) -> None:
    expect = CASES[name]
    intake = MailIntake(ctx)
    seed, our_id = await seed_case(ctx, intake)
    async with ctx.db.session() as s:  # as the sender records it: provider_id = Message-ID
        row = (await s.execute(select(Outbox).where(Outbox.idempotency_key == our_id))).scalar_one()
        row.status, row.provider_id = "sent", our_id
    raw = (
        (CORPUS / f"{name}.eml")
        .read_bytes()
        .replace(b"OUR-ID", our_id.encode())
        .replace(b"[#CODE]", f"[#{seed.code}]".encode())
    )
    envelope = Envelope("smtp", expect.envelope_from, ["feedback@example.ir"])
    message, mail = intake.build(raw, envelope)
    assert message.sender == expect.sender
    assert message.sender_name == expect.sender_name
    if expect.subject is not None:
        assert message.subject == expect.subject
    assert expect.text_has in message.text
    if expect.text_is is not None:
        assert message.text == expect.text_is
    for fragment in expect.not_in_text:
        assert fragment not in message.text
    assert mail.automatic == expect.automatic and message.automatic is (expect.automatic is not None)
    if expect.defect:
        assert expect.defect in message.meta["defects"]
    assert tuple(a.filename for a in message.attachments) == expect.attachments
    assert all(a.inline for a in message.attachments) if expect.inline else True
    result = await intake.ingest(raw, envelope)
    assert result.outcome is expect.outcome, result.reason
    async with ctx.db.session() as s:
        ack = await s.get(Outbox, row.id)
        assert (ack.status == "failed") is expect.bounce_marks_failed
        if expect.related_to_seed:
            case = await s.get(Case, result.case_id)
            assert case.related_case_id == seed.id and case.id != seed.id
        if expect.outcome is Outcome.APPENDED:
            assert result.case_id == seed.id


async def test_twenty_megabyte_attachment_is_noted_not_kept(ctx: GatewayContext) -> None:
    """Over max_attachment_bytes (10 MB): the mail is taken in, the file is named in the text."""
    from email.message import EmailMessage

    m = EmailMessage()
    m["From"], m["To"], m["Subject"], m["Message-ID"] = "citizen@example.org", "feedback@example.ir", "big", "<big@x>"
    m.set_content("فیلم تخلف پیوست است")
    m.add_attachment(b"\0" * (20 * 2**20), maintype="video", subtype="mp4", filename="film.mp4")
    message, _ = MailIntake(ctx).build(bytes(m), Envelope("import"))
    assert message.attachments == []
    assert message.meta["skipped_attachments"] == [
        {"filename": "film.mp4", "content_type": "video/mp4", "size": 20 * 2**20}
    ]
    assert "film.mp4" in message.text
    result = await ctx.intake.submit(message)
    assert result.outcome is Outcome.CREATED


async def test_same_message_id_twice_is_one_case(ctx: GatewayContext) -> None:
    intake = MailIntake(ctx)
    raw = (CORPUS / "persian_windows1256.eml").read_bytes()
    first = await intake.ingest(raw, Envelope("smtp"))
    again = await intake.ingest(raw, Envelope("imap"))
    assert (first.outcome, again.outcome) == (Outcome.CREATED, Outcome.DUPLICATE)
    assert again.case_id == first.case_id
