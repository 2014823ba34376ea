"""Tables describing the office: units, services, routing rules, deadlines, surveys."""

from __future__ import annotations

from pydantic import Field

from gateway.core.config.base import Section
from gateway.core.vocab import Channel, Kind

#: Days to answer when neither a service card nor ``[sla] days`` names a number: the one
#: SLA default (service cards, the services table and every kind without a number use it).
DEFAULT_SLA_DAYS = 10


class Unit(Section):
    code: str = Field(min_length=1, max_length=64)
    name: str
    email: str | None = None
    appeal_unit: str | None = None  # who hears appeals against this unit's answers (None: itself)


class Service(Section):
    code: str = Field(min_length=1, max_length=64)
    title: str
    unit: str
    sla_days: int = Field(DEFAULT_SLA_DAYS, ge=0)
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


class SlaSection(Section):
    """Days to answer per kind; a service card's ``sla_days`` wins for its cases."""

    days: dict[Kind, int] = {
        Kind.REQUEST: 10,
        Kind.COMPLAINT: 10,
        Kind.SUGGESTION: 15,
        Kind.CRITICISM: 15,
        Kind.VIOLATION_REPORT: 7,
    }

    def days_for(self, kind: Kind) -> int:
        """The days to answer a case of ``kind`` that has no service card."""
        return self.days.get(kind, DEFAULT_SLA_DAYS)


class SurveySection(Section):
    enabled: bool = True
    expiry_days: int = Field(30, ge=1)
    cooldown_days: int = Field(30, ge=0)
    # open surveys (/survey, /survey/service/{code}, /survey/unit/{code}, kiosk, SMS keyword)
    open_per_client_per_hour: int = Field(10, ge=1)  # shared limit per client address
    kiosk_addresses: list[str] = []  # tablets at the entrance: kiosk_per_hour instead
    kiosk_per_hour: int = Field(600, ge=1)
    keywords: list[str] = ["نظرسنجی", "نظر سنجی", "survey"]  # an SMS of one of these words
    sms_per_day: int = Field(3, ge=1)  # keyword surveys per number and day
    # results
    min_responses_per_staff: int = Field(5, ge=1)  # fewer: the staff member is not shown
    alert_threshold: int = Field(2, ge=0, le=5)  # a score at or below alerts the supervisor; 0 off
    report_recipients: list[str] = []  # the monthly report, on the first working day
