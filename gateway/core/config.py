"""The gateway's configuration: one TOML file, validated at load (DESIGN.md section 6).

Unknown keys and bad values are reported with their key path and the process refuses to
start.  Secrets are never in the file: ``*_env`` keys name environment variables.  Paths
are relative to the config file's folder.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from gateway.core.messages import Channel, Kind

DEFAULT_CONFIG = "config/gateway.toml"


class ConfigError(Exception):
    """The config cannot be used; ``problems`` are one line each, key path first."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class Section(BaseModel):
    """Base for every table: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=False)


class GatewaySection(Section):
    public_base_url: str = "http://127.0.0.1:8080"
    database_url: str = "sqlite+aiosqlite:///var/gateway.db"
    data_dir: str = "var"
    language: Literal["fa", "en"] = "fa"
    timezone: str = "Asia/Tehran"
    secret_key_env: str = "GATEWAY_SECRET_KEY"  # signs survey links and Message-IDs
    instance_name: str = ""  # shown in logs and as the dispatcher's claim id

    @field_validator("public_base_url")
    @classmethod
    def _no_trailing_slash(cls, v: str) -> str:
        return v.rstrip("/")


class HttpSection(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    max_body_bytes: int = Field(1024 * 1024, gt=0)


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


class KannelSection(Section):
    sendsms_url: str = "http://127.0.0.1:13013/cgi-bin/sendsms"
    username: str = "gateway"
    password_env: str = "GATEWAY_KANNEL_PASSWORD"
    sender: str = "30001234"
    smsc: str | None = None
    timeout_seconds: float = Field(10, gt=0)
    dlr_mask: int = Field(31, ge=0, le=31)  # 1 delivered, 2 undelivered, 4 buffered, 8 SMSC ack, 16 nack
    callback_base_url: str | None = None  # how Kannel reaches our dlr-url; default gateway.public_base_url
    callback_token_env: str = ""  # optional: MO callbacks must carry token=<value of this variable>


class KavenegarSection(Section):
    api_url: str = "https://api.kavenegar.com"  # REST base; the key goes in the path (redacted in logs)
    api_key_env: str = "GATEWAY_KAVENEGAR_KEY"
    sender: str = "30001234"  # the line number
    inbound: Literal["forward", "poll", "off"] = "forward"  # panel forwarding URL or polling receive.json
    forward_token_env: str = ""  # optional: the forwarding URL must carry token=<value>
    poll_seconds: float = Field(30, gt=0)  # inbound polling
    status_poll_seconds: float = Field(60, gt=0)  # delivery status polling
    timeout_seconds: float = Field(10, gt=0)


class GenericSmsSection(Section):
    send_url: str = ""  # outbound JSON POST target; empty: no outbound
    secret_env: str = "GATEWAY_SMS_WEBHOOK_SECRET"  # HMAC-SHA256 key for X-Gateway-Signature
    sender: str = "30001234"
    timeout_seconds: float = Field(10, gt=0)


class SmsSection(Section):
    provider: Literal["kannel", "kavenegar", "generic", "file"] = "file"
    numbers: list[str] = ["30001234"]
    max_parts: int = Field(3, ge=1, le=10)
    kannel: KannelSection = KannelSection()
    kavenegar: KavenegarSection = KavenegarSection()
    generic: GenericSmsSection = GenericSmsSection()
    region: str = "IR"  # default country for numbers without a country code
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
    lease_seconds: float = Field(30, gt=0)  # one process holds the AMI link and the spool


class AgiSection(Section):
    """Our FastAGI server, called by the dialplan (``AGI(agi://host:port/route,...)``)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(4573, ge=0, le=65535)
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


class Unit(Section):
    code: str = Field(min_length=1, max_length=64)
    name: str
    email: str | None = None


class Service(Section):
    code: str = Field(min_length=1, max_length=64)
    title: str
    unit: str
    sla_days: int = Field(10, ge=0)
    description: str = ""
    required_documents: list[str] = []
    average_days: int | None = None
    cost: str = ""
    channels: list[str] = []
    legal_basis: str = ""
    keywords: list[str] = []


class RoutingRule(Section):
    unit: str
    kind: Kind | None = None
    channel: Channel | None = None
    recipient: str | None = None
    service: str | None = None
    keywords: list[str] = []


class RoutingSection(Section):
    default_unit: str | None = None  # None: the first unit in [[units]]
    oversight_unit: str = "oversight"
    rules: list[RoutingRule] = []


class IntakeSection(Section):
    batch_max: int = Field(64, ge=1)
    max_text_chars: int = Field(20000, ge=100)
    kind_keywords: dict[Kind, list[str]] = {}  # extra words per kind, besides the built-in ones


class OutboxSection(Section):
    max_attempts: int = Field(8, ge=1)
    base_delay_seconds: float = Field(5, gt=0)
    max_delay_seconds: float = Field(3600, gt=0)
    poll_seconds: float = Field(1.0, gt=0)
    batch: int = Field(20, ge=1)
    lease_seconds: float = Field(120, gt=0)  # a row "sending" longer than this is retried
    send_timeout_seconds: float = Field(60, gt=0)


class SlaSection(Section):
    days: dict[Kind, int] = {Kind.REQUEST: 10, Kind.COMPLAINT: 10, Kind.SUGGESTION: 15,
                             Kind.CRITICISM: 15, Kind.VIOLATION_REPORT: 7}


class SurveySection(Section):
    enabled: bool = True
    expiry_days: int = Field(30, ge=1)
    cooldown_days: int = Field(30, ge=0)


class Open311Section(Section):
    """Open311 GeoReport v2 under /open311/v2/ (README "Citizen pages and Open311")."""

    enabled: bool = True
    jurisdiction_id: str = ""  # empty: any or no jurisdiction_id is accepted
    api_keys_env: str = "GATEWAY_OPEN311_API_KEYS"  # comma-separated keys for POST requests
    contact: str = ""  # shown in discovery
    key_service: str = ""  # where to ask for a key, shown in discovery
    changeset: str = "2026-01-01T00:00:00Z"  # discovery: when the service list last changed


class WebSection(Section):
    """Citizen pages: per-client token buckets (in memory, per process)."""

    track_burst: int = Field(10, ge=1)  # lookups a client may make at once
    track_per_minute: float = Field(10, gt=0)  # then this many per minute
    open311_burst: int = Field(30, ge=1)
    open311_per_minute: float = Field(60, gt=0)
    trust_forwarded_for: bool = False  # behind a proxy: use X-Forwarded-For's last hop
    max_clients: int = Field(100_000, ge=100)  # buckets kept; the least recent are dropped


class StaffSection(Section):
    """Staff console sessions, login throttling and the daily overdue digest."""

    session_hours: float = Field(12, gt=0)  # a console session ends this long after login
    login_max_failures: int = Field(5, ge=1)  # failed logins per client address and per name...
    login_window_minutes: float = Field(15, gt=0)  # ...within this window, then 429
    cookie_secure: Literal["auto", "always", "never"] = "auto"  # auto: when public_base_url is https
    digest_hour: int = Field(7, ge=0, le=23)  # local hour after which the daily digest is queued
    digest_check_minutes: float = Field(10, gt=0)
    survey_delay_seconds: float = Field(120, ge=0)  # survey invitation after the answer


class LoggingSection(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "text"


class Config(Section):
    """The whole file."""

    gateway: GatewaySection = GatewaySection()
    http: HttpSection = HttpSection()
    email: EmailSection = EmailSection()
    sms: SmsSection = SmsSection()
    voice: VoiceSection = VoiceSection()
    units: Annotated[list[Unit], Field(min_length=1)] = [Unit(code="oversight", name="حراست و بازرسی")]
    services: list[Service] = []
    routing: RoutingSection = RoutingSection()
    intake: IntakeSection = IntakeSection()
    outbox: OutboxSection = OutboxSection()
    sla: SlaSection = SlaSection()
    survey: SurveySection = SurveySection()
    staff: StaffSection = StaffSection()
    templates: dict[str, dict[str, str]] = {}  # {"fa": {"ack": "..."}, "en": {...}}
    logging: LoggingSection = LoggingSection()
    open311: Open311Section = Open311Section()
    web: WebSection = WebSection()

    base_dir: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="after")
    def _check_references(self) -> Config:
        codes = [u.code for u in self.units]
        dupes = {c for c in codes if codes.count(c) > 1}
        if dupes:
            raise ValueError(f"units: duplicate code(s) {sorted(dupes)}")
        known = set(codes)
        refs = [("routing.oversight_unit", self.routing.oversight_unit),
                ("routing.default_unit", self.routing.default_unit)]
        refs += [(f"routing.rules.{i}.unit", r.unit) for i, r in enumerate(self.routing.rules)]
        refs += [(f"services.{i}.unit", s.unit) for i, s in enumerate(self.services)]
        refs += [(f"email.smtp.aliases.{a}.unit", v.unit) for a, v in self.email.smtp.aliases.items()]
        bad = [f"{path}: unknown unit {code!r}" for path, code in refs if code and code not in known]
        if bad:
            raise ValueError("; ".join(bad))
        return self

    # -- derived values -------------------------------------------------------------
    def path(self, value: str | os.PathLike[str]) -> Path:
        """Resolve a path from the file relative to the config file's folder."""
        p = Path(value)
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    @property
    def data_dir(self) -> Path:
        return self.path(self.gateway.data_dir)

    @property
    def database_url(self) -> str:
        """The database URL with a relative SQLite path resolved against the config folder."""
        url = os.environ.get("GATEWAY_DATABASE_URL") or self.gateway.database_url
        prefix = "sqlite+aiosqlite:///"
        if url.startswith(prefix) and not url[len(prefix):].startswith(("/", ":memory:")):
            return prefix + str(self.path(url[len(prefix):]).resolve())
        return url

    @property
    def default_unit(self) -> str:
        return self.routing.default_unit or self.units[0].code

    def secret(self, env_name: str) -> str | None:
        """Read a secret from the environment variable named in the config."""
        return os.environ.get(env_name) if env_name else None


def _format_error(err: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in err["loc"] if p != "__root__")
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    return f"{loc}: {msg}" if loc else msg


def parse_config(data: dict[str, Any], base_dir: Path) -> Config:
    """Validate a parsed TOML mapping; raise :class:`ConfigError` with key paths."""
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError([_format_error(err) for err in e.errors()]) from None
    cfg.base_dir = base_dir
    return cfg


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load and validate the config file (``--config``, ``GATEWAY_CONFIG`` or the default)."""
    p = Path(path or os.environ.get("GATEWAY_CONFIG") or DEFAULT_CONFIG)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise ConfigError([f"{p}: cannot read the config file ({e.strerror})"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError([f"{p}: not valid TOML ({e})"]) from None
    return parse_config(data, p.resolve().parent)
