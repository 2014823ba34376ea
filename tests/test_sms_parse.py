"""Pure SMS parsing: phone numbers, segment budget, what a text means, UDH."""

from __future__ import annotations

import pytest

from gateway.channels.sms import segments
from gateway.channels.sms.concat import PartInfo, parse_udh
from gateway.channels.sms.parse import interpret, national, normalize_phone
from gateway.core.config import Config
from gateway.core.messages import Intent, Kind
from gateway.core.tracking import generate

CODE = generate()


@pytest.mark.parametrize(
    "raw, expected",
    [
        pytest.param("09121234567", "+989121234567", id="national"),
        pytest.param("00989121234567", "+989121234567", id="intl-00"),
        pytest.param("989121234567", "+989121234567", id="no-plus"),
        pytest.param("+98 912 123 4567", "+989121234567", id="spaced"),
        pytest.param("۰۹۱۲۱۲۳۴۵۶۷", "+989121234567", id="persian-digits"),
        pytest.param("٠٩١٢١٢٣٤٥٦٧", "+989121234567", id="arabic-digits"),
        pytest.param("+14155550123", "+14155550123", id="foreign"),
        pytest.param("", None, id="empty"),
        pytest.param("hello", None, id="letters"),
        pytest.param("12", None, id="too-short"),
    ],
)
def test_normalize_phone(raw: str, expected: str | None) -> None:
    assert normalize_phone(raw) == expected


def test_national_form() -> None:
    assert national("+989121234567") == "09121234567"
    assert national("+14155550123") == "+14155550123"


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param(CODE, {"intent": Intent.STATUS_QUERY}, id="ascii-code"),
        pytest.param(
            " ".join([CODE[:4], CODE[4:]]).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")),
            {"intent": Intent.STATUS_QUERY},
            id="persian-code-spaced",
        ),
        pytest.param(CODE[:9] + str((int(CODE[9]) + 1) % 10), {"intent": Intent.STATUS_QUERY}, id="bad-check-digit"),
        pytest.param(f"پیگیری {CODE}", {"intent": Intent.STATUS_QUERY}, id="keyword-then-code"),
        pytest.param(
            "4 5 3 4 1", {"intent": Intent.SURVEY_RESPONSE, "survey_answers": [4, 5, 3, 4, 1]}, id="survey-spaced"
        ),
        pytest.param("۵۴۳۲", {"intent": Intent.SURVEY_RESPONSE, "survey_answers": [5, 4, 3, 2]}, id="survey-persian"),
        pytest.param("شکایت از شهرداری منطقه ۲", {"kind_hint": Kind.COMPLAINT}, id="kind-fa"),
        pytest.param("Suggestion: more buses", {"kind_hint": Kind.SUGGESTION}, id="kind-en"),
        pytest.param("گزارش تخلف در اداره", {"kind_hint": Kind.VIOLATION_REPORT}, id="kind-two-words"),
        pytest.param("20001 چاله در خیابان", {"service_code": "20001"}, id="service-code"),
        pytest.param("سلام وقت بخیر", {}, id="plain"),
        pytest.param("", {}, id="empty"),
        pytest.param("12345678", {}, id="eight-digits-not-a-code"),
    ],
)
def test_interpret(text: str, expected: dict[str, object]) -> None:
    got = interpret(text, Config(services=[{"code": "20001", "title": "x", "unit": "oversight"}]))
    for key, value in expected.items():
        assert got[key] == value
    assert set(got) - {"tracking_code"} == set(expected)


@pytest.mark.parametrize(
    "text, alphabet, units, parts",
    [
        pytest.param("a" * 160, "gsm", 160, 1, id="gsm-single"),
        pytest.param("a" * 161, "gsm", 161, 2, id="gsm-two"),
        pytest.param("{" * 80, "gsm", 160, 1, id="gsm-extension-counts-two"),
        pytest.param("س" * 70, "ucs2", 70, 1, id="ucs2-single"),
        pytest.param("س" * 71, "ucs2", 71, 2, id="ucs2-two"),
        pytest.param("س" * 201, "ucs2", 201, 3, id="ucs2-three"),
        pytest.param("a" * 69 + "😀", "ucs2", 71, 2, id="emoji-costs-two"),
        pytest.param("می\u200cخواهم", "ucs2", 8, 1, id="zwnj-counts"),
    ],
)
def test_measure(text: str, alphabet: str, units: int, parts: int) -> None:
    b = segments.measure(text)
    assert (b.alphabet, b.units, b.parts) == (alphabet, units, parts)


@pytest.mark.parametrize("max_parts", [1, 2, 3])
def test_fit_keeps_whole_words_and_link(max_parts: int) -> None:
    words = [f"واژه{i}" for i in range(80)]
    text = " ".join(words)
    link = "http://gw.test/track?code=1403090012"
    out = segments.fit(text, max_parts, link)
    assert segments.measure(out).parts <= max_parts
    assert out.endswith(link)
    body = out[: -len(link)].rstrip("\n").removesuffix(segments.ELLIPSIS)
    assert body.split() == words[: len(body.split())]  # whole words only, in order


def test_fit_short_text_unchanged() -> None:
    assert segments.fit("سلام", 1, "http://x") == "سلام"


def test_split_parts_at_word_boundaries() -> None:
    text = " ".join(["کلمه"] * 60)
    parts = segments.split_parts(text, 67)
    assert all(segments.units(p) <= 67 for p in parts)
    assert " ".join(parts) == text


@pytest.mark.parametrize(
    "udh, expected",
    [
        pytest.param("0500032A0201", PartInfo(0x2A, 2, 1), id="8bit-ref"),
        pytest.param("060804ABCD0302", PartInfo(0xABCD, 3, 2), id="16bit-ref"),
        pytest.param("0500032A0203", None, id="seq-past-total"),
        pytest.param("zz", None, id="not-hex"),
        pytest.param("", None, id="empty"),
        pytest.param("0401020304", None, id="no-concat-element"),
    ],
)
def test_parse_udh(udh: str, expected: PartInfo | None) -> None:
    assert parse_udh(udh) == expected


def test_query_bytes_agrees_with_the_stdlib_on_any_ascii_query():
    """The fast query parser (runs of %XX at once) against parse_qsl + latin-1, the way the
    Kannel callback was parsed before: same names, same value bytes, on random queries."""
    import random
    from urllib.parse import parse_qsl, quote

    from gateway.channels.sms.parse import query_bytes

    rng = random.Random(4)
    pieces = ["%D8%B4", "%DA%A9", "%2B", "%25", "%", "%Z1", "%4", "+", "=", "&", "a", "Z", "0", "~", "%20", "%e2%80%8c"]
    for _ in range(5000):
        raw = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        expected = {
            k.encode("latin-1").decode("utf-8", "replace"): v.encode("latin-1")  # names: UTF-8 now
            for k, v in parse_qsl(raw, keep_blank_values=True, encoding="latin-1")
        }
        assert query_bytes(raw) == expected, raw
    text = "شکایت درباره آسفالت خیابان ۱۲"
    assert query_bytes(f"text={quote(text)}&id=7")["text"].decode() == text
