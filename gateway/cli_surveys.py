"""``gateway poster`` and ``gateway report --month``: the survey's printed matter.

Exit codes as in ``gateway.cli``: 0 success, 2 bad usage, 3 not found.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from gateway.core.config import Config

EXIT_USAGE, EXIT_NOT_FOUND = 2, 3


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``poster`` to the CLI's parsers."""
    p = sub.add_parser("poster", help="A4 survey poster (PDF) with QR code and short link, or the paper form")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--service", metavar="CODE", help="the survey of one service")
    which.add_argument("--unit", metavar="CODE", help="the survey of one unit")
    which.add_argument("--staff", metavar="NAME", help="a staff member's desk card with their desk code")
    p.add_argument("--paper", action="store_true", help="the printable paper form instead of the poster")
    p.add_argument("--out", metavar="FILE", help="where to write the PDF (default: a name in the current folder)")


def add_report_options(rep: argparse.ArgumentParser) -> None:
    """``--month`` and ``--out`` on ``gateway report``."""
    rep.add_argument("--month", metavar="YYYY-MM", help="the monthly survey report of a Jalali month (PDF and CSV)")
    rep.add_argument("--out", metavar="DIR", default=".", help="folder for the monthly report files")


def _err(message: str, code: int) -> int:
    print(f"gateway: {message}", file=sys.stderr)
    return code


async def cmd_poster(config: Config, args: argparse.Namespace) -> int:
    """``gateway poster [--service CODE | --unit CODE] [--paper] [--out FILE]``."""
    from gateway.core.surveys_open import find_target
    from gateway.printing.poster import render_paper_form, render_poster

    if getattr(args, "staff", None):
        return await _desk_card(config, args)
    scope, code = ("service", args.service) if args.service else ("unit", args.unit) if args.unit else ("site", None)
    target = find_target(config, scope, code)
    if target is None:
        return _err(f"unknown {scope} {code!r}", EXIT_NOT_FOUND)
    render = render_paper_form if args.paper else render_poster
    pdf = await asyncio.to_thread(render, config, target)
    name = f"{'survey-form' if args.paper else 'poster'}-{scope}{'-' + code if code else ''}.pdf"
    out = Path(args.out or name)
    out.write_bytes(pdf)
    print(out)
    return 0


async def cmd_monthly(config: Config, args: argparse.Namespace) -> int:
    """``gateway report --month YYYY-MM [--out DIR]``: writes the PDF and the CSV."""
    from gateway.core.db import Database
    from gateway.core.survey_results import MonthError, month_range
    from gateway.printing.monthly import build_monthly, render_monthly_pdf

    try:
        month_range(args.month, config.gateway.timezone)
    except MonthError as e:
        return _err(str(e), EXIT_USAGE)
    db = Database(config.database_url)
    try:
        report = await build_monthly(db, config, args.month)
    finally:
        await db.dispose()
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    pdf = folder / f"survey-report-{args.month}.pdf"
    pdf.write_bytes(await asyncio.to_thread(render_monthly_pdf, report, config))
    csv_path = folder / f"survey-report-{args.month}.csv"
    csv_path.write_text(report.csv, encoding="utf-8")
    print(pdf)
    print(csv_path)
    return 0


async def _desk_card(config: Config, args: argparse.Namespace) -> int:
    """``gateway poster --staff NAME``: the desk card (needs the database)."""
    from sqlalchemy import select

    from gateway.core.db import Database
    from gateway.core.models import Staff
    from gateway.core.surveys_open import desk_code, find_target
    from gateway.printing.poster import render_desk_card

    db = Database(config.database_url)
    try:
        async with db.read_session() as s:
            member = (
                await s.execute(select(Staff).where(Staff.name == args.staff, Staff.active.is_(True)))
            ).scalar_one_or_none()
            found = (member.name, member.unit_code, member.id) if member else None
    finally:
        await db.dispose()
    target = find_target(config, "unit", found[1]) if found else None
    if found is None or target is None:
        return _err(f"no active staff member named {args.staff!r}", EXIT_NOT_FOUND)
    pdf = await asyncio.to_thread(render_desk_card, config, target, found[0], desk_code(found[2]))
    out = Path(args.out or f"desk-card-{found[2]}.pdf")
    out.write_bytes(pdf)
    print(out)
    return 0
