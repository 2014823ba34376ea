"""The monthly survey report, mailed to ``survey.report_recipients`` on the first working
day of each Jalali month: the ``scheduler`` role's ``survey-report`` job.

From the first working day of a month (after ``staff.digest_hour``, office time) the job
queues last month's report, PDF and CSV attached, one email per recipient.  Each email's
Message-ID is derived from the month and the recipient, so the outbox's unique key makes
it once-only across processes and restarts; a day missed while the gateway was down is
caught up later in the month.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import jdatetime
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.core.context import GatewayContext
from gateway.core.models import Outbox
from gateway.core.outbox import queue_outbound
from gateway.core.survey_results import previous_month
from gateway.printing.monthly import build_monthly, month_title, render_monthly_pdf


def report_key(ctx: GatewayContext, month: str, recipient: str) -> str:
    """Our signed Message-ID for one month's report to one recipient."""
    who = hashlib.sha256(recipient.casefold().encode()).hexdigest()[:12]
    token = f"survey-report-{month}-{who}"
    return f"<{token}.{ctx.signer.mac('msgid', token, 6)}@{ctx.config.email.message_id_domain}>"


def first_working_day(local: date, is_working_day: Callable[[date], bool]) -> date:
    """The first working day of the Jalali month that ``local`` falls in."""
    j = jdatetime.date.fromgregorian(date=local)
    day: date = jdatetime.date(j.year, j.month, 1).togregorian()
    for _ in range(31):
        if is_working_day(day):
            return day
        day += timedelta(days=1)
    return day


def working_day_test(ctx: GatewayContext) -> Callable[[date], bool]:
    """The office's working days (the Iranian calendar of ``[calendar]``)."""
    from gateway.core.calendar import work_calendar

    return work_calendar(ctx.config.calendar, ctx.config.gateway.timezone).is_working_day


def report_due(ctx: GatewayContext, now: datetime) -> str | None:
    """Last month (``YYYY-MM``) if its report is due at ``now``, else None: from the first
    working day of this month, after ``staff.digest_hour`` office time."""
    tz = ctx.config.gateway.timezone
    local = now.astimezone(ZoneInfo(tz))
    first = first_working_day(local.date(), working_day_test(ctx))
    if local.date() < first or (local.date() == first and local.hour < ctx.config.staff.digest_hour):
        return None
    return previous_month(now, tz)


async def queue_monthly_report(ctx: GatewayContext, month: str) -> list[str]:
    """Queue the report of ``month`` to every recipient not yet sent it; who got one now."""
    recipients = ctx.config.survey.report_recipients
    async with ctx.db.read_session() as s:
        sent = set(
            (
                await s.execute(
                    select(Outbox.idempotency_key).where(
                        Outbox.idempotency_key.in_([report_key(ctx, month, r) for r in recipients])
                    )
                )
            ).scalars()
        )
    todo = [r for r in recipients if report_key(ctx, month, r) not in sent]
    if not todo:
        return []
    report = await build_monthly(ctx.db, ctx.config, month)
    pdf = await asyncio.to_thread(render_monthly_pdf, report, ctx.config)
    attachments = [
        {
            "filename": f"survey-report-{month}.pdf",
            "content_type": "application/pdf",
            "data_b64": base64.b64encode(pdf).decode(),
        },
        {
            "filename": f"survey-report-{month}.csv",
            "content_type": "text/csv",
            "data_b64": base64.b64encode(report.csv.encode("utf-8")).decode(),
        },
    ]
    text = (
        f"گزارش ماهانهٔ نظرسنجی مراجعان ({month_title(month)}) پیوست است.\n"
        f"شمار پاسخ‌ها: {report.results.responses}؛ امتیاز پایین: {report.results.low}."
    )
    queued = []
    for recipient in todo:
        try:
            async with ctx.db.session() as s:
                await queue_outbound(
                    s,
                    channel="email",
                    purpose="report",
                    recipient=recipient,
                    subject=f"گزارش ماهانهٔ نظرسنجی: {month_title(month)}",
                    text=text,
                    key=report_key(ctx, month, recipient),
                    language="fa",
                    payload={"attachments": attachments, "auto_submitted": "auto-generated"},
                )
            queued.append(recipient)
        except IntegrityError:
            continue  # another process queued it at the same moment
    return queued


async def monthly_report_job(ctx: GatewayContext, now: datetime) -> None:
    """The scheduler job: last month's report once it is due."""
    month = report_due(ctx, now) if ctx.config.survey.report_recipients else None
    if month is not None and await queue_monthly_report(ctx, month):
        ctx.dispatcher.wake()
