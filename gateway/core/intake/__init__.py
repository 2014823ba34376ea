"""``core.intake``: the one way in.  Adapters parse; intake writes.

To follow one submission, read in this order:

1. :mod:`.contract` - :class:`InboundMessage` (what an adapter hands in, every field the
   core acts on typed) and :class:`IntakeResult` (the closed set of outcomes).
2. :mod:`.writer` - :class:`IntakeWriter`: the group-commit writer task; a caller is
   answered only after the commit that holds its message.
3. :mod:`.batch` - one batch in its transaction: dedupe and threading look-ups through
   :mod:`.ledger`, plain new cases inserted in bulk, the rest by :mod:`.single`.
4. :mod:`.planning` - the pure decision of what a new case is: kind, unit, due date,
   language and acknowledgement (the outbox rows come from ``gateway.core.outbox``).

:mod:`.single` (threading, appending, reopening) and :mod:`.replies` (status queries,
survey digits, help texts) are the per-message path for everything that is not a plain
new case.

Convention: this package imports the core's lower layers (models, db, outbox, routing) and
nothing of the channels or the web; only :mod:`.contract` is imported here, so any module
can import the contract without pulling in the writer.
"""

from __future__ import annotations

from gateway.core.intake.contract import (
    DEFAULT_FOLLOW_UP_HOURS,
    InboundAttachment,
    InboundMessage,
    IntakeResult,
    Intent,
    Outcome,
)

__all__ = ["DEFAULT_FOLLOW_UP_HOURS", "InboundAttachment", "InboundMessage", "IntakeResult", "Intent", "Outcome"]
