"""The whole file as one model: its tables, the checks across tables (unit references)
and values derived from them (paths, the database URL, secrets)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, model_validator

from gateway.core.config.base import Section
from gateway.core.config.channels import EmailSection, SmsSection, VoiceSection
from gateway.core.config.office import RoutingSection, Service, SlaSection, SurveySection, Unit
from gateway.core.config.oversight import (
    CalendarSection,
    EscalationSection,
    OversightSection,
    RetentionSection,
    SchedulerSection,
)
from gateway.core.config.portal import DirectoryEntry, PortalSection
from gateway.core.config.process import GatewaySection, IntakeSection, LimitsSection, LoggingSection, OutboxSection
from gateway.core.config.web import HttpSection, Open311Section, StaffSection, WebSection


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
    limits: LimitsSection = LimitsSection()
    sla: SlaSection = SlaSection()
    survey: SurveySection = SurveySection()
    staff: StaffSection = StaffSection()
    templates: dict[str, dict[str, str]] = {}  # {"fa": {"ack": "..."}, "en": {...}}
    logging: LoggingSection = LoggingSection()
    open311: Open311Section = Open311Section()
    web: WebSection = WebSection()
    scheduler: SchedulerSection = SchedulerSection()
    calendar: CalendarSection = CalendarSection()
    escalation: EscalationSection = EscalationSection()
    oversight: OversightSection = OversightSection()
    retention: RetentionSection = RetentionSection()
    portal: PortalSection = PortalSection()
    directory: list[DirectoryEntry] = []

    base_dir: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="after")
    def _check_references(self) -> Config:
        codes = [u.code for u in self.units]
        dupes = {c for c in codes if codes.count(c) > 1}
        if dupes:
            raise ValueError(f"units: duplicate code(s) {sorted(dupes)}")
        known = set(codes)
        refs = [
            ("routing.oversight_unit", self.routing.oversight_unit),
            ("routing.default_unit", self.routing.default_unit),
        ]
        refs += [(f"routing.rules.{i}.unit", r.unit) for i, r in enumerate(self.routing.rules)]
        refs += [(f"services.{i}.unit", s.unit) for i, s in enumerate(self.services)]
        refs += [(f"email.smtp.aliases.{a}.unit", v.unit) for a, v in self.email.smtp.aliases.items()]
        refs += [(f"directory.{i}.unit", d.unit) for i, d in enumerate(self.directory)]
        refs += [(f"units.{i}.appeal_unit", u.appeal_unit) for i, u in enumerate(self.units)]
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
        if url.startswith(prefix) and not url[len(prefix) :].startswith(("/", ":memory:")):
            return prefix + str(self.path(url[len(prefix) :]).resolve())
        return url

    @property
    def default_unit(self) -> str:
        return self.routing.default_unit or self.units[0].code

    def secret(self, env_name: str) -> str | None:
        """Read a secret from the environment variable named in the config."""
        return os.environ.get(env_name) if env_name else None
