"""``gateway audit`` (the audit log, filtered, as a table or CSV) and ``gateway purge``.

Kept apart from ``gateway.cli`` so that module stays a short table of commands.  Exit
codes as there: 0 success, 1 failed, 2 bad usage, 3 not found.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta

from gateway.core.config import Config

EXIT_USAGE = 2


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``audit`` and ``purge`` to the CLI's parsers."""
    au = sub.add_parser(
        "audit",
        help="the audit log: logins, staff changes, confidential views, "
        "downloads, exports, forwards, purges, case events",
    )
    au.add_argument("--since", help="from this date or time (ISO, e.g. 2026-03-21 or 2026-03-21T08:00+03:30)")
    au.add_argument("--until", help="before this date or time (ISO)")
    au.add_argument("--days", type=int, help="the last N days (instead of --since)")
    au.add_argument("--actor", help='e.g. "staff:Maryam", cli, system')
    au.add_argument("--action", help="e.g. login_failed, case_viewed, forwarded")
    au.add_argument("--case", help="one case's events, by tracking code")
    au.add_argument("--limit", type=int, default=500, help="at most this many rows, newest first (default 500)")
    au.add_argument("--csv", action="store_true", help="CSV instead of a table")
    pu = sub.add_parser(
        "purge", help="apply the retention policy (retention.*): old raw spool rows, personal data of long-closed cases"
    )
    pu.add_argument("--dry-run", action="store_true", help="count what would go, change nothing")


def _when(value: str | None, what: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--{what}: not an ISO date or time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _filter(args: argparse.Namespace) -> object:
    from gateway.core import tracking
    from gateway.core.audit import AuditFilter

    since = _when(args.since, "since")
    if args.days is not None:
        if args.days < 1:
            raise ValueError("--days must be 1 or more")
        since = datetime.now(UTC) - timedelta(days=args.days)
    code = None
    if args.case:
        try:
            code = tracking.parse(args.case)
        except tracking.CodeError:
            raise ValueError("--case: not a valid tracking code") from None
    if not 1 <= args.limit <= 10000:
        raise ValueError("--limit must be from 1 to 10000")
    return AuditFilter(
        since=since,
        until=_when(args.until, "until"),
        actor=args.actor,
        action=args.action,
        case_code=code,
        limit=args.limit,
    )


async def cmd_audit(config: Config, args: argparse.Namespace) -> int:
    """``gateway audit [filters] [--csv]``; an export is itself audited."""
    from gateway.core import audit
    from gateway.core.db import Database

    try:
        flt = _filter(args)
    except ValueError as e:
        print(f"gateway: {e}", file=sys.stderr)
        return EXIT_USAGE
    db = Database(config.database_url)
    try:
        async with db.session() as s:
            rows = await audit.query(s, flt)  # type: ignore[arg-type]
            if args.csv:
                s.add(audit.event("cli", "exported", what="audit", rows=len(rows)))
    finally:
        await db.dispose()
    if args.csv:
        sys.stdout.write(audit.to_csv(rows))
        return 0
    for r in rows:
        detail = " ".join(f"{k}={v}" for k, v in sorted(r["detail"].items()))
        print(f"{r['at']:%Y-%m-%d %H:%M:%S}  {r['actor']:24} {r['action']:22} {r['case'] or '-':10}  {detail}")
    return 0


async def cmd_purge(config: Config, args: argparse.Namespace) -> int:
    """``gateway purge [--dry-run]``: prints the counts; a real purge is audited."""
    from gateway.core.models import utcnow
    from gateway.core.retention import purge
    from gateway.core.runtime import build_context

    ctx = build_context(config)
    try:
        report = await purge(ctx, utcnow(), dry_run=args.dry_run, actor="cli")
    finally:
        await ctx.db.dispose()
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report.counts().items())
    print(f"{'would purge' if args.dry_run else 'purged'}: {counts}")
    return 0
