"""Tables of the citizen portal (the e-service desk): ``[portal]`` with its size and rate
limits, and ``[[directory]]``, the people and units listed on ``/contact``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.core.config.base import Section

MIB = 1024 * 1024


class PortalSection(Section):
    """``/submit``, follow-up and appeal (README "Citizen portal")."""

    enabled: bool = True
    max_files: int = Field(5, ge=0, le=50)  # attachments on one submission or follow-up
    max_file_bytes: int = Field(5 * MIB, gt=0)  # each attachment
    max_total_bytes: int = Field(15 * MIB, gt=0)  # all attachments together
    max_text_chars: int = Field(10000, ge=100)
    max_subject_chars: int = Field(200, ge=10)
    form_token_hours: float = Field(24, gt=0)  # a form older than this must be sent again
    per_ip_per_hour: int = Field(20, ge=1)  # submissions (and follow-ups) from one address
    per_contact_per_day: int = Field(10, ge=1)  # submissions naming one email or mobile
    appeal_level: Literal["supervisor", "unit"] = "supervisor"  # who in the appeal unit sees an appeal


class DirectoryEntry(Section):
    """One person or unit on the contact page (and its vCard)."""

    name: str = Field(min_length=1, max_length=200)
    role: str = ""
    unit: str | None = None  # a unit code from [[units]]
    phone: str = ""
    email: str = ""
    address: str = ""
    hours: str = ""
