"""Outbound mail: headers we promise (signed Message-ID, threading, Auto-Submitted, [#code],
UTF-8, RTL HTML), relay error mapping against a real SMTP sink, and the .eml folder sender.
"""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest

from gateway.channels.email.sender import EmlFolderSender, SmtpRelaySender, build_message
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
