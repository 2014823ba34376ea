"""Outbound mail: headers we promise (signed Message-ID, threading, Auto-Submitted, [#code],
UTF-8, RTL HTML), relay error mapping against a real SMTP sink, and the .eml folder sender.
"""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from gateway.channels.email.sender import (
    EmlFolderSender,
    SmtpRelaySender,
    build_message,
    build_utf8_message,
    subject_with_code,
)
from gateway.core.config import EmailOutbound, EmailSection
from gateway.core.messages import Channel, OutboundMessage, SendStatus
from gateway.core.outbox import is_our_message_id
from gateway.core.security import Signer
from tests.peers import free_port
from tests.peers.smtp_sink import SmtpSink

SIGNER = Signer(b"k" * 32)
CFG = EmailSection(from_name="سامانه پاسخگویی", message_id_domain="feedback.example.ir")


def outbound(**over: object) -> OutboundMessage:
    from gateway.core.outbox import new_idempotency_key

    fields: dict[str, object] = dict(
        outbox_id=1,
        channel=Channel.EMAIL,
        purpose="ack",
        recipient="citizen@example.org",
        subject="کد رهگیری ۱۲۳",
        text="پیام شما ثبت شد.\nکد: ۱۲۳",
        case_code="1234567890",
        idempotency_key=new_idempotency_key("email", SIGNER, "feedback.example.ir"),
        payload={
            "in_reply_to": "<c1@example.org>",
            "references": ["<c0@example.org>", "<c1@example.org>"],
            "auto_submitted": "auto-replied",
        },
    )
    fields.update(over)
    return OutboundMessage(**fields)  # type: ignore[arg-type]


def test_built_message_headers() -> None:
    out = outbound()
    msg = email.message_from_bytes(bytes(build_message(out, CFG)), policy=policy.default)
    assert msg["Message-ID"] == out.idempotency_key
    assert is_our_message_id(msg["Message-ID"], SIGNER, "feedback.example.ir")
    assert msg["Subject"] == "کد رهگیری ۱۲۳ [#1234567890]"
    assert msg["In-Reply-To"] == "<c1@example.org>"
    assert msg["References"] == "<c0@example.org> <c1@example.org>"
    assert msg["Auto-Submitted"] == "auto-replied" and msg["X-Auto-Response-Suppress"] == "All"
    assert msg["From"].addresses[0].display_name == "سامانه پاسخگویی"
    assert msg["Date"].datetime is not None
    assert msg.get_body(("plain",)).get_content().startswith("پیام شما ثبت شد.")
    assert 'dir="rtl"' in msg.get_body(("html",)).get_content()


@pytest.mark.parametrize(
    "payload,expected", [({}, None), ({"auto_submitted": "auto-replied"}, "auto-replied")], ids=["answer", "ack"]
)
def test_auto_submitted_only_when_asked(payload: dict[str, str], expected: str | None) -> None:
    msg = build_message(outbound(payload=payload), CFG)
    assert msg["Auto-Submitted"] == expected


def test_header_injection_is_flattened() -> None:
    msg = build_message(outbound(subject="hi\r\nBcc: victim@example.org"), CFG)
    assert "\n" not in msg["Subject"] and msg["Bcc"] is None


@pytest.mark.parametrize(
    "reply,status",
    [
        (None, SendStatus.SENT),
        ("451 4.3.0 try later", SendStatus.TEMPORARY),
        ("550 5.7.1 rejected", SendStatus.PERMANENT),
    ],
    ids=["accepted", "4xx_retries", "5xx_permanent"],
)
async def test_relay_results(sink: SmtpSink, reply: str | None, status: SendStatus) -> None:
    sink.reply_code = reply
    sender = SmtpRelaySender(CFG, EmailOutbound(port=sink.port), None)
    out = outbound()
    result = await sender.send(out)
    assert result.status is status
    if status is SendStatus.SENT:
        assert result.provider_id == out.idempotency_key
        assert sink.messages[0]["Message-ID"] == out.idempotency_key


async def test_relay_unreachable_is_temporary() -> None:
    sender = SmtpRelaySender(CFG, EmailOutbound(port=free_port(), timeout_seconds=5), None)
    assert (await sender.send(outbound())).status is SendStatus.TEMPORARY


async def test_eml_folder_sender_writes_rfc5322(tmp_path: Path) -> None:
    out = outbound()
    result = await EmlFolderSender(CFG, tmp_path).send(out)
    [path] = list(tmp_path.glob("*.eml"))
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert result.provider_id == out.idempotency_key == msg["Message-ID"]
    await EmlFolderSender(CFG, tmp_path).send(out)  # a resend overwrites, no second file
    assert len(list(tmp_path.glob("*.eml"))) == 1


def _view(raw: bytes) -> tuple[dict[str, str], list[tuple[str, str | None, object]]]:
    """What a reader gets from a mail: its headers decoded (not the ones the MIME layout
    words differently: boundary, transfer encoding) and its parts' types, names, contents."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    layout = {"content-type", "content-transfer-encoding", "mime-version", "date"}
    names = [k.lower() for k in msg.keys()]
    assert len(names) == len(set(names)), names  # no header twice
    headers = {k.lower(): str(v) for k, v in msg.items() if k.lower() not in layout}
    assert msg["Date"].datetime is not None
    parts = [
        (p.get_content_type(), p.get_filename(), _text(p.get_content())) for p in msg.walk() if not p.is_multipart()
    ]
    return headers, parts


def _text(content: object) -> object:
    return content.rstrip("\n") if isinstance(content, str) else content  # set_content ends text with one


FILES = [
    {"filename": "گزارش ماهانه.csv", "content_type": "text/csv", "data_b64": "YSxiCjEsMgo="},
    {"filename": "photo.jpg", "content_type": "image/jpeg", "data_b64": "/9j/4AAQSkZJRg=="},
]


@pytest.mark.parametrize(
    "over,cfg",
    [
        ({}, CFG),
        ({"subject": "Your request", "text": "Thank you.\nCode: 123", "language": "en", "payload": {}}, CFG),
        ({"payload": {"attachments": FILES}, "headers": {"X-Case": "۱۲۳", "X-Auto-Response-Suppress": "no"}}, CFG),
        (
            {
                "subject": "شکایت درباره آسفالت خیابان و چاله‌های بزرگ " * 8,
                "payload": {"references": [f"<r{i}.{'x' * 40}@mail.example.org>" for i in range(30)]},
            },
            EmailSection(message_id_domain="feedback.example.ir"),
        ),
    ],
    ids=["acknowledgement", "english_answer", "files_and_x_headers", "long_subject_many_references"],
)
def test_both_builders_make_the_same_mail(over: dict[str, object], cfg: EmailSection) -> None:
    """The compat32 builder (every mail with ASCII addresses) and the EmailMessage one (UTF-8
    addresses) give a reader the same mail, and what is sent keeps lines within RFC 5322."""
    from aiosmtplib.email import flatten_message

    out = outbound(**over)
    fast = build_message(out, cfg)
    assert not isinstance(fast, EmailMessage)  # the compat32 path was taken
    view = _view(bytes(fast))
    assert view == _view(bytes(build_utf8_message(out, cfg, cfg.from_address)))
    assert view[0]["subject"] == subject_with_code(" ".join(out.subject.split()), out.case_code)  # no space lost
    assert view[0]["content-language"] == out.language  # set_content used to drop it
    assert max(len(line) for line in flatten_message(fast).splitlines()) <= 998


async def test_a_utf8_address_is_sent_with_smtputf8(sink: SmtpSink) -> None:
    out = outbound(recipient="علی@example.ir")
    assert isinstance(build_message(out, CFG), EmailMessage)
    result = await SmtpRelaySender(CFG, EmailOutbound(port=sink.port), None).send(out)
    assert result.status is SendStatus.SENT
    assert sink.messages[0]["To"] == "علی@example.ir"
    assert sink.messages[0]["Subject"] == "کد رهگیری ۱۲۳ [#1234567890]"
