"""Tables describing the office: units, services, routing rules, deadlines, surveys."""

from __future__ import annotations

from pydantic import Field

from gateway.core.config.base import Section
from gateway.core.messages import Channel, Kind


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


class SlaSection(Section):
    days: dict[Kind, int] = {Kind.REQUEST: 10, Kind.COMPLAINT: 10, Kind.SUGGESTION: 15,
                             Kind.CRITICISM: 15, Kind.VIOLATION_REPORT: 7}


class SurveySection(Section):
    enabled: bool = True
    expiry_days: int = Field(30, ge=1)
    cooldown_days: int = Field(30, ge=0)
