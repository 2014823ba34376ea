"""The ``gateway`` command.

Exit codes: 0 success, 1 the operation failed (database unreachable, ...), 2 bad usage or
bad config (one clear line per problem), 3 not found.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from gateway import cli_oversight, cli_staff, cli_surveys
from gateway.core.config import Config, ConfigError, load_config
from gateway.core.private import private_dir

EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND = 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gateway",
        description=(
            "citizen-gateway: take citizens' messages by email, SMS and voice mail, give each a "
            "tracking code, route it to a unit and send the answer back."
        ),
    )
    p.add_argument("--config", "-c", help="config file (default: $GATEWAY_CONFIG or config/gateway.toml)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser("init", help="create the data folder and database (applies migrations)")
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("check-config", help="validate the config file and say what is wrong")
    run = sub.add_parser("run", help="run the gateway (HTTP, channels, outbox)")
    run.add_argument(
        "--only", default="", help="comma-separated subset of roles: http,dispatch,scheduler,email,sms,voice"
    )
    staff = sub.add_parser("staff", help="manage staff accounts").add_subparsers(dest="staff_cmd", required=True)
    add = staff.add_parser("add", help="add a staff member; prints the API token alone on stdout")
    add.add_argument("name")
    add.add_argument("--unit", required=True, help="unit code")
    add.add_argument("--role", default="staff", choices=["staff", "supervisor", "oversight", "admin"])
    add.add_argument("--email")
    cli_staff.add_parsers(sub, staff)
    cli_surveys.add_parsers(sub)
    cli_oversight.add_parsers(sub)
    case = sub.add_parser("case", help="look at cases").add_subparsers(dest="case_cmd", required=True)
    show = case.add_parser("show", help="show one case by tracking code")
    show.add_argument("code")
    outbox = sub.add_parser("outbox", help="list or retry outgoing messages")
    outbox.add_argument("action", choices=["list", "retry"])
    outbox.add_argument("--status", default=None, help="filter: pending, sending, sent, delivered, failed")
    outbox.add_argument("ids", nargs="*", type=int, help="outbox ids to retry (default: all failed)")
    eml = sub.add_parser("import-eml", help="import .eml files or maildirs (idempotent by Message-ID)")
    eml.add_argument("paths", nargs="+", metavar="PATH", help=".eml file, maildir or folder of .eml files")
    eml.add_argument("--ack", action="store_true", help="send acknowledgements for new cases (default: no)")
    eml.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _fail(message: str, code: int) -> int:
    print(f"gateway: {message}", file=sys.stderr)
    return code


def _leave_at_once(code: int) -> None:
    """``gateway run`` has stopped cleanly: everything is committed, every listener, task,
    pool and connection closed.  Leave now: the interpreter's own teardown (collecting every
    object, joining what is left) took over 5 s under heavy load, and a supervisor's stop
    timeout may be shorter."""
    import logging
    import os

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gateway`` console script."""
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as e:
        for problem in e.problems:
            print(f"gateway: config error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    from gateway.core.logs import setup_logging

    setup_logging(config.logging.level, config.logging.format)
    handler = COMMANDS[args.command]
    if args.command not in _NO_DATABASE_NEEDED and _sqlite_file_missing(config.database_url):
        return _fail(NOT_INITIALISED, EXIT_FAILED)
    try:
        code = asyncio.run(handler(config, args))
        if args.command == "run":
            _leave_at_once(code)
        return code
    except KeyboardInterrupt:
        return 130
    except ConfigError as e:  # found while starting (e.g. a channel's own checks)
        for problem in e.problems:
            print(f"gateway: config error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        return _fail(f"{e.strerror or e} ({type(e).__name__})", EXIT_FAILED)
    except Exception as e:
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(e, SQLAlchemyError):
            if _is_missing_schema(e):
                return _fail(NOT_INITIALISED, EXIT_FAILED)
            return _fail(f"database error: {str(e).splitlines()[0][:300]}", EXIT_FAILED)
        raise


# Commands that work before `gateway init` (they make the database or never open it).
_NO_DATABASE_NEEDED = frozenset({"check-config", "init", "migrate", "run", "poster"})
NOT_INITIALISED = "the database is not initialised: run `make init` (or `gateway init`) first"


def _sqlite_file_missing(url: str) -> bool:
    """True for a file-backed SQLite URL whose file does not exist yet."""
    from sqlalchemy import make_url

    parsed = make_url(url)
    return (
        parsed.get_backend_name() == "sqlite"
        and bool(parsed.database)
        and parsed.database != ":memory:"
        and not Path(parsed.database).exists()
    )


def _is_missing_schema(error: Exception) -> bool:
    """True if the database answered that our tables do not exist (never migrated)."""
    text = str(error).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)


async def cmd_check_config(config: Config, args: argparse.Namespace) -> int:
    from gateway.core.config import inbound_problems
    from gateway.core.templates import Templates

    problems = inbound_problems(config) + Templates(config.templates).check()
    for problem in problems:
        print(f"gateway: config error: {problem}", file=sys.stderr)
    if problems:
        return EXIT_USAGE
    print(
        f"config OK: {len(config.units)} units, {len(config.services)} services, "
        f"database {config.database_url.split('://')[0]}"
    )
    return 0


async def cmd_migrate(config: Config, args: argparse.Namespace) -> int:
    from gateway.core.db import Database

    private_dir(config.data_dir)
    db = Database(config.database_url)
    try:
        await db.migrate()
        print(f"database at revision {await db.current_revision()}")
    finally:
        await db.dispose()
    return 0


async def cmd_init(config: Config, args: argparse.Namespace) -> int:
    from gateway.core.runtime import build_context, load_signing_key, sync_catalogue

    private_dir(config.data_dir)
    ctx = build_context(config)
    try:
        await ctx.db.migrate()
        await load_signing_key(ctx)
        await sync_catalogue(ctx)
        print(f"initialised: database at revision {await ctx.db.current_revision()}, data in {config.data_dir}")
    finally:
        await ctx.db.dispose()
    return 0


async def cmd_run(config: Config, args: argparse.Namespace) -> int:
    from gateway.serve import ROLES, serve

    only = {r.strip() for r in args.only.split(",") if r.strip()}
    unknown = only - set(ROLES)
    if unknown:
        return _fail(f"--only: unknown role(s) {', '.join(sorted(unknown))} (known: {', '.join(ROLES)})", EXIT_USAGE)
    from gateway.core.config import inbound_problems
    from gateway.core.leases import InstanceClash

    problems = inbound_problems(config)
    if problems:  # refuse before anything listens: an open webhook is worse than none
        raise ConfigError(problems)
    private_dir(config.data_dir)
    try:
        await serve(config, only)
    except InstanceClash as e:
        return _fail(str(e), EXIT_USAGE)
    except ValueError as e:  # e.g. limits.backend = "redis" without a URL
        return _fail(str(e), EXIT_USAGE)
    return 0


async def cmd_staff(config: Config, args: argparse.Namespace) -> int:
    if args.staff_cmd != "add":
        return await cli_staff.run_staff(config, args)
    from gateway.core.db import Database
    from gateway.core.staff import StaffError, add_staff

    db = Database(config.database_url)
    try:
        token = await add_staff(db, args.name, args.unit, args.role, args.email)
    except StaffError as e:
        return _fail(str(e), EXIT_USAGE)
    finally:
        await db.dispose()
    print(token)
    return 0


async def cmd_case(config: Config, args: argparse.Namespace) -> int:
    from gateway.core import tracking
    from gateway.core.db import Database
    from gateway.core.queries import case_summary

    try:
        code = tracking.parse(args.code)
    except tracking.CodeError as e:
        return _fail(
            "check the code: the check digit does not match"
            if e.reason == "check_digit"
            else "a tracking code has 10 digits",
            EXIT_USAGE,
        )
    db = Database(config.database_url)
    try:
        summary = await case_summary(db, code)
    finally:
        await db.dispose()
    if summary is None:
        return _fail(f"no case with code {code}", EXIT_NOT_FOUND)
    print(summary)
    return 0


async def cmd_outbox(config: Config, args: argparse.Namespace) -> int:
    from gateway.core.db import Database
    from gateway.core.queries import outbox_list, outbox_retry

    db = Database(config.database_url)
    try:
        if args.action == "list":
            print(await outbox_list(db, args.status))
        else:
            print(f"{await outbox_retry(db, args.ids)} row(s) queued again")
    finally:
        await db.dispose()
    return 0


async def cmd_import_eml(config: Config, args: argparse.Namespace) -> int:
    from gateway.channels.email.importer import find_mails, import_mails
    from gateway.core.runtime import running_context

    try:
        files = find_mails(args.paths)
    except FileNotFoundError as e:
        return _fail(str(e), EXIT_NOT_FOUND)
    private_dir(config.data_dir)
    async with running_context(config, dispatch=args.ack) as ctx:
        report = await import_mails(ctx, files, acknowledge=args.ack, show_progress=not args.quiet)
        if args.ack:
            while await ctx.dispatcher.run_once():
                pass
    print(f"imported {len(files)} file(s): " + ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())))
    for path, why in report.problems:
        print(f"gateway: {path}: {why}", file=sys.stderr)
    return EXIT_FAILED if report.problems or not files else 0


COMMANDS: dict[str, Callable[[Config, argparse.Namespace], Awaitable[int]]] = {
    "check-config": cmd_check_config,
    "migrate": cmd_migrate,
    "init": cmd_init,
    "run": cmd_run,
    "staff": cmd_staff,
    "case": cmd_case,
    "outbox": cmd_outbox,
    "report": cli_staff.cmd_report,
    "audit": cli_oversight.cmd_audit,
    "purge": cli_oversight.cmd_purge,
    "import-eml": cmd_import_eml,
    "poster": cli_surveys.cmd_poster,
}
