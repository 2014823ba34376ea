"""Pure functions of the voice channel: sidecars, events, caller ids, spoken text, AGI replies."""

from __future__ import annotations

import pytest

from gateway.channels.voice.agi import AgiReply, parse_reply, quote
from gateway.channels.voice.parse import (
    caller_e164,
    describe,
    dial_number,
    is_iranian_mobile,
    parse_sidecar,
    safe_uniqueid,
    spoken_text,
    uniqueid_from_event,
    wav_info,
)
from tests.peers.voice_dialplan import make_wav

FULL = "uniqueid=1.2\ncallerid=09121234567\ncategory=3\nstarted=100\ncase=1234567890\nstatus=SILENCE\nended=130\n"


@pytest.mark.parametrize(
    "text, caller, code, status, complete",
    [
        (FULL, "09121234567", "1234567890", "SILENCE", True),
        (FULL.replace("status=SILENCE\nended=130\n", ""), "09121234567", "1234567890", "", False),
        (FULL.replace("\nended=130\n", "\nende"), "09121234567", "1234567890", "SILENCE", True),
        ("uniqueid=1.2\ncallerid=09121234567\nstatus=SIL", "09121234567", "", "", False),
        ("uniqueid=1.2\ncase=۱۲۳۴۵۶۷۸۹۰\nstatus=hangup\n", "", "1234567890", "HANGUP", True),
        ("garbage without equals\n\n", "", "", "", False),
    ],
    ids=["complete", "still-recording", "half-written-ended", "half-written-status", "persian-digits", "garbage"],
)
def test_parse_sidecar(text: str, caller: str, code: str, status: str, complete: bool) -> None:
    sc = parse_sidecar(text, "1.2")
    assert (sc.caller, sc.case_code, sc.status, sc.complete) == (caller, code, status, complete)


@pytest.mark.parametrize(
    "raw, e164, mobile",
    [
        ("09121234567", "+989121234567", True),
        ("+989121234567", "+989121234567", True),
        ("00989121234567", "+989121234567", True),
        ("۰۹۱۲۱۲۳۴۵۶۷", "+989121234567", True),
        ("02188776655", "+982188776655", False),
        ("anonymous", None, False),
        ("", None, False),
        ("<unknown>", None, False),
        ("123", None, False),
    ],
    ids=[
        "national-mobile",
        "e164",
        "00-prefix",
        "persian-digits",
        "tehran-landline",
        "anonymous",
        "empty",
        "unknown",
        "too-short",
    ],
)
def test_caller_e164(raw: str, e164: str | None, mobile: bool) -> None:
    assert caller_e164(raw) == e164
    assert is_iranian_mobile(e164) is mobile


@pytest.mark.parametrize(
    "headers, uid",
    [
        ({"gwfile": "/var/spool/asterisk/feedback/incoming/1700000000.42.wav"}, "1700000000.42"),
        ({"gwfile": "", "uniqueid": "1700000000.43"}, "1700000000.43"),
        ({"gwfile": "/x/../../etc/passwd.wav"}, "passwd"),  # only the base name is used
        ({"gwfile": "/x/.hidden.wav"}, None),
        ({}, None),
    ],
    ids=["gwfile", "empty-gwfile-uses-uniqueid", "path-ignored", "dot-file", "nothing"],
)
def test_uniqueid_from_event(headers: dict[str, str], uid: str | None) -> None:
    assert uniqueid_from_event(headers) == uid


def test_safe_uniqueid_rejects_paths() -> None:
    assert safe_uniqueid("a/b") is None and safe_uniqueid("..") is None and safe_uniqueid("1.2") == "1.2"


@pytest.mark.parametrize(
    "text, spoken",
    [
        ("کد ۱۲۳", "کد ۱ ۲ ۳"),
        ("code 2024-05", "code ۲ ۰ ۲ ۴-۰ ۵"),
        ("پاسخ: http://gw.test/s/abc تمام", "پاسخ: تمام"),
    ],
    ids=["persian-digits", "ascii-digits", "link-dropped"],
)
def test_spoken_text(text: str, spoken: str) -> None:
    assert spoken_text(text) == spoken


def test_describe_and_dial_number() -> None:
    assert describe(35.4) == "پیام صوتی (۳۵ ثانیه)"
    assert dial_number("+989121234567", "national") == "09121234567"
    assert dial_number("+982188776655", "e164") == "+982188776655"


@pytest.mark.parametrize(
    "seconds, amplitude, loud", [(3, 8000, True), (3, 0, False), (0.5, 8000, True)], ids=["speech", "silence", "short"]
)
def test_wav_info(seconds: float, amplitude: int, loud: bool) -> None:
    info = wav_info(make_wav(None, seconds, amplitude))
    assert info is not None and abs(info.seconds - seconds) < 0.01 and (info.peak > 300) is loud


def test_wav_info_unreadable() -> None:
    assert wav_info(b"RIFF\x00\x00") is None


@pytest.mark.parametrize(
    "line, reply",
    [
        ("200 result=1", AgiReply(200, "1")),
        ("200 result=0 endpos=12000", AgiReply(200, "0")),
        ("200 result=123456", AgiReply(200, "123456")),
        ("200 result= (timeout)", AgiReply(200, "", "timeout")),
        ("200 result=1 (some value)", AgiReply(200, "1", "some value")),
        ("200 result=-1", AgiReply(200, "-1")),
        ("510 Invalid or unknown command", AgiReply(510)),
        ("520-Invalid command syntax.  Proper usage follows:", AgiReply(520)),
        ("511 Command Not Permitted on a dead channel or intercept routine", AgiReply(511)),
    ],
    ids=[
        "set-variable",
        "stream-file",
        "get-data",
        "get-data-timeout",
        "get-variable",
        "failure",
        "unknown",
        "usage",
        "dead-channel",
    ],
)
def test_parse_agi_reply(line: str, reply: AgiReply) -> None:
    assert parse_reply(line) == reply


def test_quote_cannot_inject_commands() -> None:
    assert quote('a"b\nHANGUP') == '"a\\"b HANGUP"'
