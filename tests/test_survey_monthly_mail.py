"""The monthly survey report by email: PDF and CSV attached, relayed to a real SMTP server
(aiosmtpd sink), once per recipient and month however often the job runs; due from the
first working day of the month."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timezone
from typing import Any

from sqlalchemy import select

from gateway.channels.email import create as create_email
from gateway.core.config import Config
from gateway.core.models import Outbox
from gateway.core.runtime import running_context
from gateway.printing.monthly_mail import queue_monthly_report
from tests.peers.smtp_sink import SmtpSink
from tests.test_staff_support import send_all
from tests.test_survey_report import _load


async def test_the_monthly_report_is_mailed_once_with_pdf_and_csv(
    make_config: Callable[..., Config], sink: SmtpSink
) -> None:
    config = make_config(
        email={"smtp": {"enabled": False}, "outbound": {"host": "127.0.0.1", "port": sink.port}},
        survey={"report_recipients": ["manager@example.ir", "board@example.ir"], "min_responses_per_staff": 3},
    )
    async with running_context(config, migrate=False, dispatch=False) as ctx:
        create_email(ctx)  # registers the relay sender
        await _load(ctx)
        assert sorted(await queue_monthly_report(ctx, "1405-09")) == ["board@example.ir", "manager@example.ir"]
        assert await queue_monthly_report(ctx, "1405-09") == []  # a second run queues nothing
        await send_all(ctx)
        mails = await sink.wait_for(2)
        async with ctx.db.session() as s:
            rows = list((await s.execute(select(Outbox).where(Outbox.purpose == "report"))).scalars())
    assert sorted(r.status for r in rows) == ["sent", "sent"]
    assert sorted(m["to"].addresses[0].addr_spec for m in mails) == ["board@example.ir", "manager@example.ir"]
    mail = mails[0]
    assert "آذر ۱۴۰۵" in mail["subject"]
    files = {p.get_filename(): p for p in mail.iter_attachments()}
    assert set(files) == {"survey-report-1405-09.pdf", "survey-report-1405-09.csv"}
    assert files["survey-report-1405-09.pdf"].get_content().startswith(b"%PDF")
    csv_text = files["survey-report-1405-09.csv"].get_content()
    csv_text = csv_text.decode() if isinstance(csv_text, bytes) else csv_text
    assert "1405-09,total,responses,9" in csv_text
    assert "شمار پاسخ‌ها: 9" in mail.get_body(("plain",)).get_content()


def test_previous_month_of_a_date_in_tehran() -> None:
    from gateway.core.survey_results import previous_month

    # 1 Dey 1405 begins at 20:30 UTC on 21 December 2026
    assert previous_month(datetime(2026, 12, 21, 20, 31, tzinfo=UTC), "Asia/Tehran") == "1405-09"
    assert previous_month(datetime(2026, 12, 21, 20, 29, tzinfo=UTC), "Asia/Tehran") == "1405-08"
    assert previous_month(datetime(2026, 3, 21, 12, 0, tzinfo=UTC), "Asia/Tehran") == "1404-12"


def test_the_report_is_due_from_the_first_working_day_of_the_month(make_config: Callable[..., Config]) -> None:
    from types import SimpleNamespace

    from gateway.printing.monthly_mail import first_working_day, report_due

    ctx: Any = SimpleNamespace(config=make_config(survey={"report_recipients": ["m@example.ir"]}))
    # 1 Dey 1405 is Tuesday 22 December 2026, a working day; the digest hour is 07:00 Tehran
    assert report_due(ctx, datetime(2026, 12, 22, 3, 0, tzinfo=UTC)) is None  # 06:30 Tehran
    assert report_due(ctx, datetime(2026, 12, 22, 4, 0, tzinfo=UTC)) == "1405-09"  # 07:30
    # later in the month it stays due: a day the gateway was down is caught up (the outbox
    # key keeps it once per recipient); on 30 Azar the month before is the one due
    assert report_due(ctx, datetime(2026, 12, 30, 12, 0, tzinfo=UTC)) == "1405-09"
    assert report_due(ctx, datetime(2026, 12, 21, 12, 0, tzinfo=UTC)) == "1405-08"
    # a month whose first day is closed: the first working day comes after it
    closed = {date(2026, 12, 22), date(2026, 12, 23)}
    assert first_working_day(date(2026, 12, 30), lambda d: d not in closed) == date(2026, 12, 24)
