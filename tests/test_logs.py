"""Logs never carry citizens' contacts or secrets."""

import logging
import sys

import pytest

from gateway.core.logs import JsonFormatter, RedactingFilter, TextFormatter, redact


@pytest.mark.parametrize(
    "raw,leak",
    [
        pytest.param("from ali.rezaei@example.ir", "ali.rezaei", id="email"),
        pytest.param("sms from +989121234567", "9121234567", id="e164"),
        pytest.param("sms from 09121234567", "09121234567", id="local-mobile"),
        pytest.param("sms from ۰۹۱۲۱۲۳۴۵۶۷", "۰۹۱۲۱۲۳۴۵۶۷", id="persian-digits"),
        pytest.param(
            "GET https://api.kavenegar.com/v1/4F6A2B7C9D0E1F2A3B4C5D6E/sms/send.json",
            "4F6A2B7C9D0E1F2A",
            id="kavenegar-key",
        ),
        pytest.param("sendsms?username=gw&password=s3cr3t&to=1", "s3cr3t", id="password-param"),
        pytest.param("api_key=abcdef123", "abcdef123", id="api-key"),
    ],
)
def test_redact(raw, leak):
    assert leak not in redact(raw)


def test_short_numbers_survive():
    assert redact("batch of 25 rows in 130 ms, outbox id 48213") == "batch of 25 rows in 130 ms, outbox id 48213"


def test_filter_redacts_args_and_extras():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "reply to %s", ("a@b.ir",), None)
    record.sender = "+989121234567"
    RedactingFilter().filter(record)
    line = JsonFormatter().format(record)
    assert "a@b.ir" not in line and "9121234567" not in line


@pytest.mark.parametrize(
    "formatter", [JsonFormatter(), TextFormatter("%(levelname)s %(message)s")], ids=["json", "text"]
)
def test_tracebacks_are_redacted(formatter):
    """A library's exception text can quote what a citizen sent (aiohttp quotes the request
    line of a bad URL): the traceback is redacted in both formats, not only the message."""
    try:
        raise ValueError("Invalid char in url query: b'GET /sms/kannel/mo?from=09121234567&to=a@b.ir'")
    except ValueError:
        record = logging.LogRecord(
            "aiohttp.server", logging.ERROR, __file__, 1, "Error handling request", (), sys.exc_info()
        )
    RedactingFilter().filter(record)
    line = formatter.format(record)
    assert "Invalid char in url query" in line
    assert "9121234567" not in line and "a@b.ir" not in line
