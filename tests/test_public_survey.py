"""/s/{token}: the Article 9(5) survey page; one response per invitation, forged,
tampered and expired links, replays, oversized and HTML comments."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from gateway.core.lookup import track_token
from gateway.core.models import SurveyInvitation, SurveyResponse
from gateway.core.surveys import MAX_COMMENT_CHARS
from tests.test_public_common import client, make_case

GOOD = {
    "workflow": "4",
    "information_match": "5",
    "staff_behaviour": "3",
    "timeliness": "2",
    "improper_request": "no",
    "comment": "خوب بود",
}


def _path(link: str) -> str:
    return link.removeprefix("http://gw.test")


async def _responses(ctx) -> list[SurveyResponse]:
    async with ctx.db.session() as s:
        return list((await s.execute(select(SurveyResponse))).scalars())


async def test_the_survey_asks_the_article_9_5_questions(ctx, client):
    made = await make_case(ctx, answered=True, invite=True)
    r = await client.get(_path(made.link))
    html = await r.text()
    assert r.status == 200
    for name in ("workflow", "information_match", "staff_behaviour", "timeliness"):
        assert html.count(f'name="{name}"') == 5  # a 1-5 scale each
    assert "شناسنامهٔ خدمت" in html and "خلاف مقررات" in html
    assert 'name="improper_request" value="yes"' in html and '<textarea id="comment"' in html
    assert html.count("<legend>") == 5 and '<label for="comment">' in html


async def test_a_response_is_stored_once_and_a_replay_is_refused(ctx, client):
    made = await make_case(ctx, answered=True, invite=True)
    r = await client.post(_path(made.link), data=GOOD)
    html = await r.text()
    assert r.status == 200 and 'id="survey-thanks"' in html
    assert "feedback@example.ir" in html and "/services" in html  # the offer to open a new case
    r = await client.post(_path(made.link), data={**GOOD, "workflow": "1"})
    assert r.status == 409 and "پیش‌تر پاسخ داده شده" in await r.text()
    r = await client.get(_path(made.link))
    assert r.status == 409
    [resp] = await _responses(ctx)
    assert resp.answers == {"workflow": 4, "information_match": 5, "staff_behaviour": 3, "timeliness": 2}
    assert resp.improper_request is False and resp.comment == "خوب بود" and resp.channel == "web"


async def test_two_submissions_at_once_store_one_response(ctx, client):
    made = await make_case(ctx, answered=True, invite=True)
    first, second = await asyncio.gather(
        client.post(_path(made.link), data=GOOD), client.post(_path(made.link), data=GOOD)
    )
    assert sorted([first.status, second.status]) == [200, 409]
    assert len(await _responses(ctx)) == 1


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda tok, ctx: "bm90LWEtdG9rZW4.c2lnbmF0dXJl", id="forged"),
        pytest.param(lambda tok, ctx: tok[:-1] + ("A" if tok[-1] != "A" else "B"), id="signature-tampered"),
        pytest.param(lambda tok, ctx: "eyJpIjo5OTl9." + tok.split(".", 1)[1], id="payload-swapped"),
        pytest.param(lambda tok, ctx: ctx.signer.sign("survey", {"i": 99999}), id="signed-but-no-invitation"),
        pytest.param(lambda tok, ctx: track_token(ctx, "1234567890"), id="token-for-another-purpose"),
        pytest.param(lambda tok, ctx: tok * 5, id="oversized"),
    ],
)
async def test_forged_or_tampered_links_are_refused(ctx, client, forge):
    made = await make_case(ctx, answered=True, invite=True)
    bad = forge(made.invitation.token, ctx)
    r = await client.get(f"/s/{bad}")
    assert r.status == 404 and "معتبر نیست" in await r.text()
    r = await client.post(f"/s/{bad}", data=GOOD)
    assert r.status == 404
    assert await _responses(ctx) == []


async def test_an_expired_link_says_so(ctx, client):
    made = await make_case(ctx, answered=True, invite=True)
    expired = ctx.signer.sign("survey", {"i": made.invitation.id}, ttl_seconds=-60)
    async with ctx.db.session() as s:
        (await s.get(SurveyInvitation, made.invitation.id)).token = expired
    r = await client.get(f"/s/{expired}")
    assert r.status == 410 and "به پایان رسیده" in await r.text()
    r = await client.post(f"/s/{expired}", data=GOOD)
    assert r.status == 410 and await _responses(ctx) == []


async def test_a_100_kb_comment_is_refused_and_nothing_is_stored(ctx, client):
    made = await make_case(ctx, answered=True, invite=True)
    r = await client.post(_path(made.link), data={**GOOD, "comment": "x" * 100_000})
    assert r.status == 413 and "بیش از حد مجاز" in await r.text()
    r = await client.post(_path(made.link), data={**GOOD, "comment": "y" * (MAX_COMMENT_CHARS + 1)})
    html = await r.text()
    assert r.status == 400 and 'id="survey-error"' in html and "۴۰۰۰" in html
    assert await _responses(ctx) == []
    r = await client.post(_path(made.link), data={**GOOD, "comment": "ک" * MAX_COMMENT_CHARS})
    assert r.status == 200  # the limit itself is fine
    [resp] = await _responses(ctx)
    assert len(resp.comment) == MAX_COMMENT_CHARS


async def test_html_in_a_comment_is_kept_as_text_and_never_rendered(ctx, client):
    made = await make_case(ctx, answered=True, invite=True)
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    r = await client.post(_path(made.link), data={**GOOD, "workflow": "", "comment": evil})
    html = await r.text()
    assert r.status == 400 and "به این پرسش‌ها هم امتیاز دهید" in html  # the form again
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html
    r = await client.post(_path(made.link), data={**GOOD, "comment": evil})
    assert r.status == 200 and "<script>alert" not in await r.text()
    [resp] = await _responses(ctx)
    assert resp.comment == evil  # stored verbatim; every page escapes it


@pytest.mark.parametrize(
    "field,value",
    [
        pytest.param("workflow", "6", id="score-above-5"),
        pytest.param("timeliness", "0", id="score-below-1"),
        pytest.param("staff_behaviour", "", id="missing-score"),
        pytest.param("information_match", "٣x", id="not-a-number"),
    ],
)
async def test_bad_scores_show_the_form_again(ctx, client, field, value):
    made = await make_case(ctx, answered=True, invite=True)
    r = await client.post(_path(made.link), data={**GOOD, field: value})
    html = await r.text()
    assert r.status == 400 and 'id="survey-form"' in html
    # the error names the question and the question says it, the others do not
    assert f'href="#q-{field}"' in html and f'id="q-{field}-error"' in html
    assert html.count('class="field-error"') == 1
    assert await _responses(ctx) == []
