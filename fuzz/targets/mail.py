"""Mail: ``parse_mail`` on generated and mutated mail (it promises never to raise, and
everything it returns must be storable on PostgreSQL: no NUL, no lone surrogate), and whole
mails taken in through the running gateway's mail intake (the database must take them).

Inputs: mails built from parts real mail is made of (odd charsets, RFC 2047 words, nested
multiparts, message/rfc822, TNEF, report parts, NULs, bare CRs, form feeds), and the mails
of tests/fixtures/mail/ with bytes flipped, inserted and spliced.

Run with the harness (``python -m fuzz mail.``), or alone: ``python -m fuzz.targets.mail
--seconds N`` (Hypothesis, ``mail.parse`` only), or coverage-guided with atheris where it is
installed: ``python -m fuzz.targets.mail --atheris SECONDS [CORPUS_DIR]``.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

try:
    from fuzz.harness import AppEnv, target
except ImportError:  # without the harness this module still runs alone (see above)
    AppEnv = Any  # type: ignore[assignment,misc]

    def target(name: str, strategy: Any, **_: Any) -> Any:  # type: ignore[no-redef]
        return lambda check: check


from gateway.channels.email.inbound import Envelope, MailIntake
from gateway.channels.email.parse import MailLimits, ParsedMail, parse_mail

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "mail"
SEEDS = sorted(p.read_bytes() for p in FIXTURES.rglob("*.eml"))
LIMITS = MailLimits(parts=200, depth=12)  # small bounds: the fuzzer reaches them often

NAMES = st.sampled_from(
    [
        "From",
        "To",
        "Cc",
        "Subject",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
        "Auto-Submitted",
        "Return-Path",
        "List-Id",
        "Date",
        "X-Mailer",
    ]
)
CHARSETS = st.sampled_from(
    [
        "utf-8",
        "windows-1256",
        "iso-8859-6-i",
        "utf-7",
        "utf-16",
        "us-ascii",
        "x-unknown",
        "utf-8\0",
        "cp1256\x0c",
        "",
        "gb2312",
        "unicode-1-1-utf-7",
    ]
)
ODD = st.sampled_from(["\0", "\r", "\n", "\x0c", "\r\n", "\t", "=?", "?=", "<>", '"', ";", "\u202e", "\udc80"])
TEXT = st.lists(st.one_of(st.text(max_size=30), ODD), max_size=8).map("".join)
TYPES = st.sampled_from(
    [
        "text/plain",
        "text/html",
        "multipart/mixed",
        "multipart/alternative",
        "multipart/report",
        "message/rfc822",
        "message/delivery-status",
        "message/feedback-report",
        "application/ms-tnef",
        "image/png",
        "application/octet-stream",
        "text/rfc822-headers",
    ]
)


def _bytes(text: str) -> bytes:
    return (
        text.encode("utf-8", "surrogateescape")
        if all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in text)
        else text.encode("utf-8", "replace")
    )


@st.composite
def encoded_words(draw: Any) -> str:
    charset, kind = draw(CHARSETS), draw(st.sampled_from("BQbq"))
    payload = draw(st.binary(max_size=30))
    body = base64.b64encode(payload).decode() if kind in "Bb" else payload.decode("latin-1")
    return f"=?{charset}?{kind}?{body}?="


@st.composite
def parts(draw: Any, depth: int = 0) -> bytes:
    """One MIME entity: headers, then a body or (for multipart) nested entities."""
    ctype = draw(TYPES)
    params = f"; charset={draw(CHARSETS)}" if draw(st.booleans()) else ""
    boundary = draw(st.sampled_from(["b", "b\0", "", "=_x", "b" * 80])) + str(depth)
    head = [f'Content-Type: {ctype}{params}; boundary="{boundary}"']
    head += [f"{draw(NAMES)}: {draw(st.one_of(TEXT, encoded_words()))}" for _ in range(draw(st.integers(0, 3)))]
    if draw(st.booleans()):
        head.append(
            f"Content-Transfer-Encoding: {draw(st.sampled_from(['base64', 'quoted-printable', '8bit', 'x-uue', '7bit']))}"
        )
    out = _bytes("\r\n".join(head)) + b"\r\n\r\n"
    if ctype.startswith("multipart/") and depth < 4:
        for _ in range(draw(st.integers(0, 3))):
            out += b"--" + _bytes(boundary) + b"\r\n" + draw(parts(depth + 1)) + b"\r\n"
        return out + b"--" + _bytes(boundary) + b"--\r\n"
    if ctype == "message/rfc822" and depth < 4:
        return out + draw(parts(depth + 1))
    return out + draw(st.one_of(st.binary(max_size=200), TEXT.map(_bytes)))


@st.composite
def mutated_seed(draw: Any) -> bytes:
    """A fixture mail with a few bytes flipped, inserted, cut or spliced from another."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        op = draw(st.sampled_from(["flip", "insert", "cut", "splice", "odd"]))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "splice":
            other = draw(st.sampled_from(SEEDS))
            start = draw(st.integers(0, max(0, len(other) - 1)))
            data[at:at] = other[start : start + draw(st.integers(1, 400))]
        else:
            data[at:at] = draw(st.sampled_from([b"\0", b"\r", b"\x0c", b"\r\n\r\n", b"--", b"=?utf\0-8?B?", b"\xff"]))
    return bytes(data)


MAILS = st.one_of(mutated_seed(), parts(), st.binary(max_size=2000))


def check_storable(mail: ParsedMail) -> None:
    """What parse_mail returns goes into text and jsonb columns: no NUL, valid UTF-8."""
    values = [
        mail.text,
        mail.subject,
        mail.sender or "",
        mail.sender_name or "",
        mail.message_id or "",
        *mail.recipients,
        *mail.in_reply_to,
        *mail.references,
        *mail.headers.values(),
        *(a.filename for a in mail.attachments),
        *(a.content_type for a in mail.attachments),
    ]
    for value in values:
        assert "\0" not in value, f"NUL in {value!r}"
        value.encode("utf-8")  # a lone surrogate raises here


@target("mail.parse", MAILS)
def mail_parse(raw: bytes) -> None:
    check_storable(parse_mail(raw, LIMITS, None))
    check_storable(parse_mail(raw, MailLimits(), ""))  # null envelope sender, default bounds


_INTAKES: dict[int, MailIntake] = {}  # one per running gateway


@target("mail.ingest", MAILS, config={"email": {"max_parts": 200, "max_depth": 12}})
async def mail_ingest(raw: bytes, env: AppEnv) -> None:
    """The whole way in on a running gateway: parse (in the worker process), decide, commit."""
    intake = _INTAKES.get(id(env.ctx))
    if intake is None:
        intake = _INTAKES[id(env.ctx)] = MailIntake(env.ctx)
    await intake.ingest(raw, Envelope("import", "fuzz@example.org", ["feedback@example.ir"]))


def _atheris(seconds: int, corpus: str | None) -> None:
    """Coverage-guided: parse_mail under atheris, seeded with the fixture mails."""
    import tempfile

    import atheris  # type: ignore[import-not-found]

    folder = corpus or tempfile.mkdtemp(prefix="mail-corpus-")
    for n, seed in enumerate(SEEDS):
        Path(folder, f"seed-{n}.eml").write_bytes(seed)
    # the parser and the stdlib's email package are imported already: import them afresh,
    # instrumented (only them: instrumenting everything loaded takes many minutes)
    for name in [n for n in sys.modules if n.startswith(("gateway.channels.email", "email"))]:
        del sys.modules[name]
    with atheris.instrument_imports(include=["gateway.channels.email", "email"]):
        from gateway.channels.email import parse as instrumented

    def one(data: bytes) -> None:
        check_storable(instrumented.parse_mail(data, LIMITS, None))

    atheris.Setup([sys.argv[0], folder, f"-max_total_time={seconds}", "-max_len=20000", "-rss_limit_mb=2048"], one)
    atheris.Fuzz()


def _hypothesis(seconds: float) -> int:
    """``mail.parse`` under Hypothesis until ``seconds`` have passed (a crash raises, shrunk)."""
    import time

    from hypothesis import HealthCheck, given, settings

    runs, start = [0], time.monotonic()

    @settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(MAILS)
    def run(raw: bytes) -> None:
        runs[0] += 1
        mail_parse(raw)

    while time.monotonic() - start < seconds:
        run()
    print(f"mail.parse ok {runs[0]} inputs in {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--atheris"]:
        _atheris(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
    elif sys.argv[1:2] == ["--seconds"]:
        sys.exit(_hypothesis(float(sys.argv[2])))
    else:
        sys.exit(__doc__)
