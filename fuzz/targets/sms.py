"""SMS: each provider's inbound and status parsing, the text rules, and every webhook
through HTTP on a running gateway (Kannel MO/DLR, Kavenegar forwarding, generic JSON)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

from aiohttp import encode_basic_auth
from hypothesis import strategies as st

from fuzz.harness import AppEnv, target
from gateway.channels.sms.concat import parse_udh
from gateway.channels.sms.parse import BadRequest, interpret, normalize_phone, query_bytes, to_inbound
from gateway.channels.sms.providers import generic, kannel, kavenegar
from gateway.channels.sms.webhook import decode, encode
from gateway.core.config import parse_config

CONFIG = parse_config({"services": [{"code": "10011003113", "title": "t", "unit": "oversight"}]}, Path("."))
SECRET = "fuzz-callback-secret"
os.environ.setdefault("GW_FUZZ_SECRET", SECRET)  # the HTTP targets' gateways refuse to start without

# Values a provider or an attacker might send: digits, Persian, phone shapes, raw bytes.
TEXTS = st.one_of(
    st.text(max_size=300),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=40),
    st.sampled_from(
        ["۱۲۳۴۵۶۷۸۹۰", "پیگیری 1234567890", "5 4 3", "شکایت", "09121234567", "+989121234567", "0098 912 123 4567"]
    ),
)
VALUES = st.one_of(st.binary(max_size=300), TEXTS.map(lambda t: t.encode("utf-8", "surrogatepass")))
KANNEL_KEYS = ["from", "to", "text", "charset", "coding", "id", "ts", "smsc", "out", "sig", "status", "token", "udh"]
CHARSETS = st.sampled_from(["UTF-8", "utf-16be", "UCS-2", "iso-8859-1", "windows-1252", "", "x-unknown\x00"])


def encoded_query(fields: dict[str, bytes]) -> str:
    return "&".join(
        f"{quote_from_bytes(k.encode('utf-8', 'surrogatepass'))}={quote_from_bytes(v)}" for k, v in fields.items()
    )


QUERIES = st.one_of(
    st.dictionaries(st.one_of(st.sampled_from(KANNEL_KEYS), st.text(max_size=8)), VALUES, max_size=10).map(
        encoded_query
    ),
    st.text(max_size=400),  # raw, unencoded junk
    st.binary(max_size=400).map(lambda b: b.decode("latin-1")),
)


@target("sms.kannel.mo", st.tuples(QUERIES, CHARSETS), allowed=(KeyError, BadRequest))
def kannel_mo(case: tuple[str, str]) -> None:
    """get-url query -> IncomingSms -> InboundMessage, and through the spool's JSON form."""
    raw, charset = case
    query = query_bytes(raw)
    query.setdefault("charset", charset.encode("utf-8", "surrogatepass"))
    sms = kannel.parse_mo(query)
    assert decode(encode(sms)) == sms or sms.received_at is None
    to_inbound(sms, CONFIG)


@target(
    "sms.kannel.dlr",
    st.dictionaries(st.sampled_from(["out", "sig", "status", "id", "ts"]), TEXTS, max_size=5),
    allowed=(KeyError,),
)
def kannel_dlr(query: dict[str, str]) -> None:
    kannel.parse_dlr(query)


@target("sms.text", st.tuples(TEXTS, st.text(max_size=40)))
def sms_text(case: tuple[str, str]) -> None:
    """The text rules (status query, survey digits, kind, service) and phone numbers."""
    text, number = case
    interpret(text, CONFIG)
    normalize_phone(number)
    parse_udh(number)


ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=50)  # lone surrogates too
JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=50), ANY_TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
GENERIC_KEYS = ["id", "from", "to", "text", "time", "udh", "status", "outbox_id"]
GENERIC_BODIES = st.one_of(st.dictionaries(st.sampled_from(GENERIC_KEYS), JSON_VALUES, max_size=8), JSON_VALUES)


@target("sms.generic.inbound", GENERIC_BODIES, allowed=(KeyError, BadRequest))
def generic_inbound(data: Any) -> None:
    sms, _ = generic.parse_inbound(data)
    to_inbound(sms, CONFIG)


@target("sms.generic.status", GENERIC_BODIES, allowed=(KeyError,))
def generic_status(data: Any) -> None:
    generic.parse_status(data)


@target(
    "sms.generic.signature",
    st.tuples(
        st.binary(max_size=200),
        st.dictionaries(
            st.sampled_from([generic.SIGNATURE_HEADER, generic.TIMESTAMP_HEADER, "X-Other"]), st.text(max_size=80)
        ),
    ),
)
def generic_signature(case: tuple[bytes, dict[str, str]]) -> None:
    body, headers = case
    assert not generic.verify(SECRET, body, headers, 300) or headers.get(generic.SIGNATURE_HEADER)


@target(
    "sms.kavenegar.forward",
    st.dictionaries(st.sampled_from(["messageid", "from", "to", "message", "date"]), TEXTS, max_size=6),
    allowed=(KeyError, BadRequest),
)
def kavenegar_forward(fields: dict[str, str]) -> None:
    sms = kavenegar.parse_forward(fields)
    decode(encode(sms))
    to_inbound(sms, CONFIG)


@target(
    "sms.kavenegar.replies",
    st.tuples(
        st.sampled_from([200, 400, 500]),
        st.one_of(
            st.text(max_size=200),
            JSON_VALUES.map(json.dumps),
            st.fixed_dictionaries(
                {"return": st.fixed_dictionaries({"status": JSON_VALUES}), "entries": JSON_VALUES}
            ).map(json.dumps),
        ),
    ),
    allowed=(kavenegar.KavenegarError,),
)
def kavenegar_replies(case: tuple[int, str]) -> None:
    """The provider's JSON replies (send, status and receive polls) are outside input too."""
    entries = kavenegar.parse_reply(*case)
    for entry in entries:
        kavenegar.status_of(entry)
        kavenegar.polled_sms(entry)


# -- through HTTP on a running gateway ----------------------------------------------------
AUTH = st.one_of(
    st.just({"Authorization": encode_basic_auth("kannel", SECRET)}),
    st.dictionaries(
        st.sampled_from(["Authorization", "X-Gateway-Token", "Content-Type"]),
        st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
        max_size=2,
    ),
)
KANNEL_HTTP = st.tuples(
    st.sampled_from(["GET", "POST"]),
    st.sampled_from(["/sms/kannel/mo", "/sms/kannel/dlr"]),
    QUERIES,
    st.binary(max_size=300),
    AUTH,
)


@target(
    "sms.kannel.http",
    KANNEL_HTTP,
    config={"sms": {"provider": "kannel", "spool_first": False, "kannel": {"callback_token_env": "GW_FUZZ_SECRET"}}},
)
async def kannel_http(case: tuple[str, str, str, bytes, dict[str, str]], env: AppEnv) -> None:
    """Anything a caller sends: never a 5xx, never an error in the log (checked by the harness)."""
    method, path, query, body, headers = case
    r = await env.client.request(method, f"{path}?{query}", data=body, headers=headers)
    await r.read()
    assert r.status < 500, r.status


@target(
    "sms.generic.http",
    st.tuples(
        st.sampled_from(["/sms/generic/inbound", "/sms/generic/status"]),
        GENERIC_BODIES.map(lambda d: json.dumps(d).encode()) | st.binary(max_size=200),
    ),
    config={"sms": {"provider": "generic", "spool_first": False, "generic": {"secret_env": "GW_FUZZ_SECRET"}}},
)
async def generic_http(case: tuple[str, bytes], env: AppEnv) -> None:
    path, body = case
    headers = generic.signed_headers(SECRET, body, time.time())
    r = await env.client.post(path, data=body, headers=headers)
    await r.read()
    assert r.status < 500, r.status
