"""The bounce for unreadable mail goes through the outbox like every other message: one
row per spool row (a replay does not queue a second), sent by the dispatcher, recorded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from gateway.core.models import Outbox
from tests.test_email_loops import loop_rig


async def test_a_bounce_is_one_outbox_row_per_spool_row(loop_rig: Callable[..., Any]) -> None:
    plugin, sink = loop_rig()
    await plugin.drainer.bounce("someone@example.org", 41)
    await plugin.drainer.bounce("someone@example.org", 41)  # the same row again (a replay)
    await plugin.drainer.bounce("<>", 42)  # a null sender never gets one
    async with plugin.ctx.db.session() as s:
        rows = (await s.execute(select(Outbox))).scalars().all()
    assert [(r.purpose, r.recipient, r.case_id, r.status) for r in rows] == [
        ("bounce", "someone@example.org", None, "pending")
    ]
    assert await plugin.ctx.dispatcher.run_once() == 1
    [mail] = await sink.wait_for(1)
    text = mail.get_body(("plain",)).get_content()
    assert mail["Message-ID"] == rows[0].idempotency_key and "spool-41" in text
    async with plugin.ctx.db.session() as s:
        assert (await s.get(Outbox, rows[0].id)).status == "sent"
