"""Who may see and act on which case (README "Staff API and console", who sees what).

- ``staff`` and ``supervisor``: their own unit's cases, never violation reports.  A case
  appealed at the ``supervisor`` level (``portal.appeal_level``) leaves plain staff's
  scope: only supervisors, oversight and admins of its unit see it from then on.
- ``oversight``: their own unit's cases plus every violation report (Article 9-1).
- ``admin``: like staff for cases; may also manage units and staff accounts.
- Supervisors (and oversight, admin) see their unit's dashboard.
- The reporter's identity on a violation report (or any confidential case) is shown only
  to oversight staff; everyone else sees ``None`` in its place.

A case outside a viewer's scope is "not found" for them (404, never 403), so codes of
other units' cases cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, true

from gateway.core.messages import Kind
from gateway.core.models import Case, Staff

VIOLATION = Kind.VIOLATION_REPORT.value
DASHBOARD_ROLES = frozenset({"supervisor", "oversight", "admin"})
APPEAL_SUPERVISOR = "supervisor"  # Case.appeal_level: only non-"staff" roles of the unit see it


@dataclass(frozen=True, slots=True)
class Viewer:
    """The staff member acting, as far as access decisions need it."""

    staff_id: int
    name: str
    unit_code: str
    role: str

    @classmethod
    def of(cls, member: Staff) -> Viewer:
        """The viewer for a loaded staff row."""
        return cls(member.id, member.name, member.unit_code, member.role)

    @property
    def actor(self) -> str:
        """The audit-log actor string."""
        return f"staff:{self.name}"

    @property
    def is_oversight(self) -> bool:
        return self.role == "oversight"

    @property
    def sees_dashboard(self) -> bool:
        return self.role in DASHBOARD_ROLES

    @property
    def manages_staff(self) -> bool:
        return self.role == "admin"


def case_scope(viewer: Viewer) -> ColumnElement[bool]:
    """A WHERE clause selecting exactly the cases ``viewer`` may see."""
    level = (
        true() if viewer.role != "staff" else or_(Case.appeal_level.is_(None), Case.appeal_level != APPEAL_SUPERVISOR)
    )
    own = and_(Case.unit_code == viewer.unit_code, Case.kind != VIOLATION, level)
    if viewer.is_oversight:
        return or_(Case.unit_code == viewer.unit_code, Case.kind == VIOLATION)
    return own


def may_see(viewer: Viewer, case: Case) -> bool:
    """The same rule as :func:`case_scope`, for one loaded case."""
    if case.kind == VIOLATION:
        return viewer.is_oversight
    if viewer.role == "staff" and case.appeal_level == APPEAL_SUPERVISOR:
        return False
    return case.unit_code == viewer.unit_code


def may_see_reporter(viewer: Viewer, case: Case) -> bool:
    """True if the viewer may see who wrote the case (contact, name, senders)."""
    if case.kind == VIOLATION or case.confidential:
        return viewer.is_oversight
    return True


def may_change_kind(viewer: Viewer, case: Case, new_kind: str) -> bool:
    """Anyone who sees a case may reclassify it, but only oversight may take a violation
    report out of that kind (its reporter would otherwise become visible)."""
    return not (case.kind == VIOLATION and new_kind != VIOLATION and not viewer.is_oversight)


def redact(
    viewer: Viewer,
    case: Case,
    data: dict[str, Any],
    keys: tuple[str, ...] = ("contact", "contact_name", "sender", "recipient"),
) -> dict[str, Any]:
    """``data`` with the reporter's identity blanked when the viewer may not see it."""
    if may_see_reporter(viewer, case):
        return data
    return {k: (None if k in keys else v) for k, v in data.items()}
