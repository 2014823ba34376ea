"""Tables of follow-through: the scheduler role, the working-day calendar, reminders and
escalation, external oversight bodies, and data retention."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from gateway.core.config.base import Section
from gateway.core.messages import Kind

Weekday = Literal["saturday", "sunday", "monday", "tuesday", "wednesday", "thursday", "friday"]
StaffRole = Literal["staff", "supervisor", "oversight", "admin"]


class SchedulerSection(Section):
    """Timed work (digests, reminders, escalation, purge) of ``run --only scheduler``."""

    tick_seconds: float = Field(60, gt=0)  # how often the holder looks for due work
    lease_seconds: float = Field(180, gt=0)  # unused: the scheduler lease follows gateway.lease_seconds


class CalendarSection(Section):
    """Working days: the weekend, official holidays (from the ``holidays`` library) and
    the office's own closures."""

    weekend: list[Weekday] = ["friday"]  # add "thursday" where the office closes then
    official_holidays: bool = True  # Iran's official holidays, solar and lunar
    closures: list[date] = []  # extra days the office is closed
    open_days: list[date] = []  # days the office works although the library lists a holiday


class EscalationSection(Section):
    """Reminders before the due date and escalation after it."""

    reminder_share: float = Field(0.75, gt=0, lt=1)  # remind when this share of the SLA has passed
    office_role: StaffRole = "admin"  # told when a case stays overdue office_after_days more
    office_after_days: int = Field(3, ge=0)  # working days after the due date
    office_emails: list[str] = []  # also told at the office level (besides the role's staff)
    new_case_hours: float = Field(48, gt=0)  # older cases are not announced as new (first start)


class ExternalBody(Section):
    """An external oversight body violation reports may be forwarded to."""

    code: str = Field(min_length=1, max_length=64)
    name: str
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    accepts: list[Kind] = [Kind.VIOLATION_REPORT]


class OversightSection(Section):
    external: list[ExternalBody] = []
    tell_citizen: bool = True  # the citizen is told that the report was forwarded
    name_body_to_citizen: bool = True  # false: "to an external oversight body", no name

    @model_validator(mode="after")
    def _unique_codes(self) -> OversightSection:
        codes = [b.code for b in self.external]
        if len(codes) != len(set(codes)):
            raise ValueError("oversight.external: duplicate code")
        return self


class RetentionSection(Section):
    """What is kept how long (``gateway purge`` and the scheduler's daily run)."""

    spool_days: int | None = Field(30, ge=1)  # raw inbound rows, once processed; None: keep
    closed_case_months: int | None = Field(None, ge=1)  # personal data of closed cases; None: keep
    purge_hour: int = Field(3, ge=0, le=23)  # local hour of the daily run
