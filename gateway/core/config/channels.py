"""Tables of the three channels: email (SMTP, IMAP, outbound), SMS (Kannel, Kavenegar,
generic webhook) and voice (AMI, FastAGI, callbacks)."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from gateway.core.config.base import Section
from gateway.core.vocab import Kind


class SmtpAlias(Section):
    kind: Kind | None = None
    unit: str | None = None


class SmtpSection(Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(2525, ge=0, le=65535)
    hostname: str = "localhost"
    addresses: list[str] = ["feedback@example.ir"]
    aliases: dict[str, SmtpAlias] = {}
    max_message_bytes: int = Field(10 * 1024 * 1024, gt=0)
    tls_cert: str | None = None
    tls_key: str | None = None
    # spool: store the raw mail durably, answer 250, parse afterwards (Mailman's design);
    # direct: parse and commit the case before answering 250.
    mode: Literal["spool", "direct"] = "spool"
    timeout_seconds: float = Field(300, gt=0)  # idle client (RFC 5321 section 4.5.3.2)
    # RFC 5321 section 4.5.3.1.6 says 1000, but real MTAs relay longer lines: take them
    max_line_bytes: int = Field(64 * 1024, ge=1001)
    proxy_protocol: bool = False  # behind a balancer sending PROXY headers (see http.proxy_protocol)


class ImapMailbox(Section):
    host: str
    port: int = Field(993, ge=0, le=65535)
    tls: bool = True
    username: str
    password_env: str
    folder: str = "INBOX"
    processed_folder: str | None = None
    poll_seconds: float = Field(60, gt=0)
    ca_file: str | None = None
    idle: bool = True  # use IMAP IDLE when the server offers it
    timeout_seconds: float = Field(60, gt=0)
    fetch_batch: int = Field(100, ge=1)


class EmailOutbound(Section):
    host: str = "127.0.0.1"
    port: int = Field(25, ge=0, le=65535)
    starttls: bool = False
    username: str = ""
    password_env: str = ""
    from_address: str = "feedback@example.ir"
    timeout_seconds: float = Field(30, gt=0)
    ca_file: str | None = None


class EmailSection(Section):
    from_address: str = "feedback@example.ir"
    from_name: str = ""
    message_id_domain: str = "feedback.example.ir"
    smtp: SmtpSection = SmtpSection()
    imap: list[ImapMailbox] = []
    outbound: EmailOutbound | None = None  # omitted: write .eml files under data_dir
    auto_reply_cap: int = Field(10, ge=1)
    auto_reply_window_minutes: int = Field(10, ge=1)
    max_attachment_bytes: int = Field(10 * 1024 * 1024, gt=0)  # larger ones are noted, not kept
    # A mail beyond these is kept whole as original.eml instead of being taken apart
    max_parts: int = Field(1000, ge=1)
    max_depth: int = Field(30, ge=1)
    # Beyond these, further attachments are not stored one by one (original.eml holds them)
    max_attachments: int = Field(200, ge=1)
    max_decoded_bytes: int = Field(50 * 1024 * 1024, gt=0)


class KannelSection(Section):
    sendsms_url: str = "http://127.0.0.1:13013/cgi-bin/sendsms"
    username: str = "gateway"
    password_env: str = "GATEWAY_KANNEL_PASSWORD"
    sender: str = "30001234"
    smsc: str | None = None
    timeout_seconds: float = Field(10, gt=0)
    dlr_mask: int = Field(31, ge=0, le=31)  # 1 delivered, 2 undelivered, 4 buffered, 8 SMSC ack, 16 nack
    callback_base_url: str | None = None  # how Kannel reaches our dlr-url; default gateway.public_base_url
    # the secret Kannel's callbacks (MO and DLR) carry as HTTP Basic auth: get-url
    # "http://kannel:<secret>@host/sms/kannel/mo?..."; without it (or sms.allow_from) no start
    callback_token_env: str = "GATEWAY_KANNEL_CALLBACK_TOKEN"


class KavenegarSection(Section):
    api_url: str = "https://api.kavenegar.com"  # REST base; the key goes in the path (redacted in logs)
    api_key_env: str = "GATEWAY_KAVENEGAR_KEY"
    sender: str = "30001234"  # the line number
    inbound: Literal["forward", "poll", "off"] = "forward"  # panel forwarding URL or polling receive.json
    # the forwarding URL must carry token=<value> (the panel sends no headers); without it
    # (or sms.allow_from) the gateway refuses to start with inbound = "forward"
    forward_token_env: str = "GATEWAY_KAVENEGAR_FORWARD_TOKEN"
    poll_seconds: float = Field(30, gt=0)  # inbound polling
    status_poll_seconds: float = Field(60, gt=0)  # delivery status polling
    timeout_seconds: float = Field(10, gt=0)


class GenericSmsSection(Section):
    send_url: str = ""  # outbound JSON POST target; empty: no outbound
    secret_env: str = "GATEWAY_SMS_WEBHOOK_SECRET"  # HMAC-SHA256 key for X-Gateway-Signature
    replay_window_seconds: int = Field(300, ge=10, le=3600)  # X-Gateway-Timestamp within this of now
    sender: str = "30001234"
    timeout_seconds: float = Field(10, gt=0)


def _network(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"not an IP address or network: {value!r}") from None
    return value


class SmsSection(Section):
    provider: Literal["kannel", "kavenegar", "generic", "file"] = "file"
    numbers: list[str] = ["30001234"]
    max_parts: int = Field(3, ge=1, le=10)
    kannel: KannelSection = KannelSection()
    kavenegar: KavenegarSection = KavenegarSection()
    generic: GenericSmsSection = GenericSmsSection()
    region: str = "IR"  # default country for numbers without a country code
    # networks the provider calls the webhooks from (the socket's peer, e.g. "10.0.0.7" or
    # "10.0.0.0/24"); with a secret configured too, both must hold
    allow_from: list[Annotated[str, AfterValidator(_network)]] = []
    follow_up_window_hours: int = Field(72, ge=0)
    new_cases_per_hour: int = Field(10, ge=1)
    replies_per_hour: int = Field(20, ge=1)
    # store first, process after: a webhook is answered once its raw request is committed
    # to the spool; a drainer makes the case moments later (false: intake before the 200)
    spool_first: bool = True


class AmiSection(Section):
    """The gateway's AMI login (manager.conf user with read/write classes, see README)."""

    host: str = "127.0.0.1"
    port: int = Field(5038, ge=0, le=65535)
    username: str = "gateway"
    secret_env: str = "GATEWAY_AMI_SECRET"
    action_timeout_seconds: float = Field(10, gt=0)  # every AMI action is bounded
    ping_seconds: float = Field(20, gt=0)  # watchdog: an unanswered Ping drops the link
    reconnect_max_seconds: float = Field(30, gt=0)  # backoff ceiling (login failures too)
    lease_seconds: float = Field(30, gt=0)  # unused: the voice:spool lease follows gateway.lease_seconds


class AgiSection(Section):
    """Our FastAGI server, called by the dialplan (``AGI(agi://host:port/route,...)``)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(4573, ge=0, le=65535)
    # FastAGI has no authentication: beyond loopback, only these networks may connect
    # (Asterisk's address); the gateway refuses to start on another address without them
    allow_from: list[Annotated[str, AfterValidator(_network)]] = []
    intake_timeout_seconds: float = Field(4, gt=0)  # the caller is waiting on the line
    command_timeout_seconds: float = Field(60, gt=0)  # one AGI command (prompts, keypad input)


class CallbackSection(Section):
    """Answers (and codes) spoken in a call placed with AMI Originate."""

    dial: str = "PJSIP/{number}@trunk"  # {number}: national (09..., 021...) or E.164 per number_format
    number_format: Literal["national", "e164"] = "national"
    context: str = "feedback-callback"
    caller_id: str = ""
    ring_seconds: int = Field(45, ge=5, le=300)
    ack_by_callback: bool = False  # code not heard in the call, caller not mobile: call back


class VoiceSection(Section):
    enabled: bool = False
    spool_dir: str = "/var/spool/asterisk/feedback"  # shared with Asterisk: incoming/, done/, answers/
    asterisk_spool_dir: str | None = None  # the same folder as Asterisk sees it (default: spool_dir)
    min_seconds: float = Field(2, ge=0)  # shorter (or silent) recordings are "short"
    silence_peak: int = Field(300, ge=0, le=32767)  # 16-bit peak below this counts as silent
    short_recordings: Literal["drop", "keep"] = "drop"  # drop: log line, files to dropped/
    max_record_seconds: int = Field(180, ge=10)  # sidecar without status older than this + 60 s: crashed call
    reconcile_seconds: float = Field(300, gt=0)  # periodic spool scan (also on start and AMI login)
    reconcile_concurrency: int = Field(16, ge=1, le=256)
    sms_to_mobiles: bool = True  # codes and answers to Iranian mobiles go by SMS, not by a call
    tts_voice: str = "fa"  # espeak-ng voice
    tts_rate: int = Field(150, ge=80, le=400)  # words per minute
    ami: AmiSection = AmiSection()
    agi: AgiSection = AgiSection()
    callback: CallbackSection = CallbackSection()
