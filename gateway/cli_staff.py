"""``gateway staff passwd|revoke|deactivate|notify|list`` and ``gateway report``: the staff
endpoint's commands (``gateway audit`` and ``purge`` are in ``gateway.cli_oversight``).

Kept apart from ``gateway.cli`` so that module stays a short table of commands.  Exit
codes as there: 0 success, 1 failed, 2 bad usage, 3 not found.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING

from gateway.core.config import Config

if TYPE_CHECKING:
    from gateway.core.db import Database

EXIT_USAGE, EXIT_NOT_FOUND = 2, 3


def add_parsers(sub: argparse._SubParsersAction, staff: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the staff subcommands and ``report`` to the CLI's parsers."""
    pw = staff.add_parser("passwd", help="set a console password (read from the terminal, or one line of stdin)")
    pw.add_argument("name")
    rv = staff.add_parser("revoke", help="revoke API tokens: one (--token) or all of a staff member")
    rv.add_argument("name", nargs="?", help="revoke every live token of this staff member")
    rv.add_argument("--token", help="revoke just this token")
    staff.add_parser("list", help="list staff members, roles, units and live tokens")
    dv = staff.add_parser("deactivate", help="deactivate a member: no login or API, console sessions end at once")
    dv.add_argument("name")
    nt = staff.add_parser("notify", help="how a member hears of new cases: immediate, digest (daily) or none")
    nt.add_argument("name")
    nt.add_argument("choice", choices=["immediate", "digest", "none"])
    rep = sub.add_parser("report", help="dashboard figures: cases by kind/channel, response time, overdue, surveys")
    rep.add_argument("--csv", action="store_true", help="CSV instead of a table")
    rep.add_argument("--unit", help="one unit (default: all units)")
    rep.add_argument("--days", type=int, help="only cases created in the last N days")
    from gateway.cli_surveys import add_report_options

    add_report_options(rep)


def _err(message: str, code: int) -> int:
    print(f"gateway: {message}", file=sys.stderr)
    return code


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("new password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first


async def run_staff(config: Config, args: argparse.Namespace) -> int:
    """``gateway staff passwd|revoke|deactivate|notify|list``."""
    from gateway.core import staff
    from gateway.core.db import Database

    db = Database(config.database_url)
    try:
        if args.staff_cmd == "passwd":
            try:
                await staff.set_password(db, args.name, _read_password())
            except ValueError as e:  # StaffError is a ValueError
                return _err(str(e), EXIT_USAGE)
            print(f"password set for {args.name}")
        elif args.staff_cmd == "revoke":
            if args.token:
                if not await staff.revoke_token(db, args.token):
                    return _err("no live token like that", EXIT_NOT_FOUND)
                print("token revoked")
            elif args.name:
                try:
                    print(f"{await staff.revoke_all_tokens(db, args.name)} token(s) revoked")
                except staff.StaffError as e:
                    return _err(str(e), EXIT_NOT_FOUND)
            else:
                return _err("give a NAME or --token", EXIT_USAGE)
        elif args.staff_cmd in ("deactivate", "notify"):
            return await _change_member(db, args)
        else:
            print(f"{'name':24} {'unit':16} {'role':10} {'active':6} {'password':8} {'notify':9} tokens")
            for m in await staff.list_staff(db):
                print(
                    f"{m['name']!s:24} {m['unit']!s:16} {m['role']!s:10} "
                    f"{'yes' if m['active'] else 'no':6} {'yes' if m['password'] else 'no':8} "
                    f"{m['notify']!s:9} {m['tokens']}"
                )
    finally:
        await db.dispose()
    return 0


async def _change_member(db: Database, args: argparse.Namespace) -> int:
    """``gateway staff deactivate NAME`` and ``gateway staff notify NAME CHOICE``."""
    from gateway.core import staff

    try:
        if args.staff_cmd == "deactivate":
            await staff.deactivate_staff(db, args.name)
            print(f"{args.name} deactivated; their console sessions have ended")
        else:
            await staff.set_notify(db, args.name, args.choice)
            print(f"{args.name}: new cases {args.choice}")
    except staff.StaffError as e:
        return _err(str(e), EXIT_NOT_FOUND)
    return 0


async def cmd_report(config: Config, args: argparse.Namespace) -> int:
    """``gateway report [--csv] [--unit CODE] [--days N]``; ``--month`` is the survey report."""
    if args.month:
        from gateway.cli_surveys import cmd_monthly

        return await cmd_monthly(config, args)
    from gateway.core import audit, reports
    from gateway.core.db import Database
    from gateway.core.models import Case

    if args.unit and args.unit not in {u.code for u in config.units}:
        return _err(f"unknown unit {args.unit!r}", EXIT_NOT_FOUND)
    if args.days is not None and args.days < 1:
        return _err("--days must be 1 or more", EXIT_USAGE)
    db = Database(config.database_url)
    try:
        async with db.session() as s:
            figs = await reports.figures(
                s,
                Case.unit_code == args.unit if args.unit else None,
                args.unit or "all",
                reports.period_start(args.days),
            )
            if args.csv:
                s.add(audit.event("cli", "exported", what="report", unit=args.unit, days=args.days))
    finally:
        await db.dispose()
    print(reports.to_csv(figs) if args.csv else reports.to_table(figs), end="" if args.csv else "\n")
    return 0
