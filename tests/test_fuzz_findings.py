"""What the fuzzing harness (and writing its targets) found, kept as a case table so each
stays fixed: the input, through its real surface, and the answer it must get."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import encode_basic_auth
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from gateway.channels.sms import create
from gateway.channels.sms.providers import generic, kavenegar
from gateway.core.context import GatewayContext
from gateway.core.messages import Channel, InboundMessage
from gateway.core.models import Case
from gateway.core.runtime import running_context
from gateway.core.surveys import SURVEY_QUESTIONS, create_invitation
from gateway.web.app import create_app

SECRET = "findings-secret"


@pytest.mark.parametrize("value", ["¹", "²", "٣ً", "5\u0301"])
async def test_survey_answer_that_isdigit_but_not_a_number_is_a_form_error(ctx: GatewayContext, value: str) -> None:
    """ "¹".isdigit() is True and int("¹") raises: the survey form answered 500."""
    result = await ctx.intake.submit(
        InboundMessage(Channel.EMAIL, "چراغ خاموش است", external_id="s-1", provider="test", sender="citizen@example.ir")
    )
    async with ctx.db.session() as s:
        case = (await s.execute(select(Case).where(Case.code == result.case_code))).scalar_one()
        case.status = "answered"
        invitation = await create_invitation(s, ctx, case)
        assert invitation is not None
        token = invitation.token
    form = {q: "4" for q in SURVEY_QUESTIONS} | {SURVEY_QUESTIONS[0]: value}
    async with TestClient(TestServer(create_app(ctx))) as client:
        r = await client.post(f"/s/{token}", data=form)
        assert r.status == 400
        r = await client.post(f"/s/{token}", data={q: "۴" for q in SURVEY_QUESTIONS})  # Persian digits are fine
        assert r.status == 200


@pytest.mark.parametrize("stamp", ["¹", "１２３", "-5", "", "99999999999999999999"])
def test_generic_timestamp_must_be_ascii_digits(stamp: str) -> None:
    """ "¹".isdigit() again: int() raised inside the signature check (found by sms.generic.signature)."""
    headers = {generic.TIMESTAMP_HEADER: stamp, generic.SIGNATURE_HEADER: generic.sign(SECRET, b"{}", stamp)}
    assert generic.verify(SECRET, b"{}", headers, 300) is False


@pytest.mark.parametrize("sig", ["é", "ن" * 12, "x" * 12])
async def test_kannel_dlr_with_a_non_ascii_signature_is_401(
    make_config: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, sig: str
) -> None:
    """hmac.compare_digest raises TypeError for non-ASCII str: the DLR answered 500."""
    monkeypatch.setenv("GW_TEST_FINDINGS", SECRET)
    config = make_config(sms={"provider": "kannel", "kannel": {"callback_token_env": "GW_TEST_FINDINGS"}})
    async with running_context(config, migrate=False, dispatch=False) as ctx:
        plugin = create(ctx)
        assert plugin is not None
        async with TestClient(
            TestServer(create_app(ctx, [plugin.routes()])),
            headers={"Authorization": encode_basic_auth("kannel", SECRET)},
        ) as client:
            r = await client.get("/sms/kannel/dlr", params={"out": "1", "sig": sig, "status": "1"})
            assert r.status == 401


@pytest.mark.parametrize(
    "entry, expected",
    [
        pytest.param({"messageid": 7, "status": "abc"}, ("7", 0), id="status-not-a-number"),
        pytest.param({"messageid": 7, "status": [10]}, ("7", 0), id="status-a-list"),
        pytest.param({"messageid": 7, "status": 1e400}, ("7", 0), id="status-infinite"),
        pytest.param({"messageid": 7, "status": "10"}, ("7", 10), id="status-as-text"),
    ],
)
def test_kavenegar_status_entry_that_is_not_a_number(entry: dict[str, Any], expected: tuple[str, int]) -> None:
    """One unreadable entry made the whole status poll fail, every round."""
    assert kavenegar.status_of(entry) == expected


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"return": {"status": 200}, "entries": [1, "x", None]}),
        json.dumps({"return": {"status": 200}, "entries": {"a": 1}}),
        json.dumps({"return": {"status": 1e400}}),
    ],
)
def test_kavenegar_reply_with_odd_entries(body: str) -> None:
    try:
        assert kavenegar.parse_reply(200, body) == []
    except kavenegar.KavenegarError:
        pass  # an unreadable status is a provider error, not a crash


@pytest.mark.parametrize("text", ["\ud800", "شکایت \udc80 از تاخیر", "a\udfffb"])
async def test_generic_text_with_a_lone_surrogate_is_stored(
    make_config: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    """JSON may escape a lone surrogate ("\\ud800"); the spool's UTF-8 encode raised (500).
    Found by sms.kavenegar.forward in the hour-long run."""
    monkeypatch.setenv("GW_TEST_FINDINGS", SECRET)
    config = make_config(sms={"provider": "generic", "generic": {"secret_env": "GW_TEST_FINDINGS"}})
    body = json.dumps({"id": "g-1", "from": "09121234567", "to": "30001234", "text": text}).encode()
    assert b"\\ud" in body.lower()  # escaped, as a provider would send it
    async with running_context(config, migrate=False, dispatch=False) as ctx:
        plugin = create(ctx)
        assert plugin is not None
        await plugin.start()  # the spool writer
        try:
            async with TestClient(TestServer(create_app(ctx, [plugin.routes()]))) as client:
                r = await client.post("/sms/generic/inbound", data=body, headers=generic.signed_headers(SECRET, body))
                assert (r.status, (await r.json())["result"]) == (200, "stored")
        finally:
            await plugin.stop()


@pytest.mark.parametrize("token", ["é.é", "eyJpIjoxfQ.ن", "a.\u200f"])
async def test_forged_survey_token_with_non_ascii_is_not_a_500(ctx: GatewayContext, token: str) -> None:
    """Signer.verify compared str with compare_digest, which raises for non-ASCII text
    (found by web.survey.http in the follow-up fuzz run)."""
    assert ctx.signer.verify("survey", token) is None
    async with TestClient(TestServer(create_app(ctx))) as client:
        r = await client.post(f"/s/{token}", data={q: "4" for q in SURVEY_QUESTIONS})
        assert 400 <= r.status < 500


def test_csrf_check_with_non_ascii_is_false() -> None:
    from gateway.web.auth import csrf_ok

    assert csrf_ok("abc", "ابc") is False and csrf_ok("abc", "\ud800") is False and csrf_ok("abc", "abc")
