"""The citizen's language travels: links in messages open pages in the language the citizen
wrote in, pages follow the browser's Accept-Language, and Persian names on English pages are
marked as Persian."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from gateway.core.messages import Channel
from gateway.core.models import Outbox
from gateway.web.i18n import accepted_language
from tests.test_public_common import client, make_case


@pytest.mark.parametrize(
    "header, expected",
    [
        pytest.param("en-US,en;q=0.9", "en", id="english-browser"),
        pytest.param("fa-IR,fa;q=0.9,en;q=0.8", "fa", id="persian-browser"),
        pytest.param("de-DE,de;q=0.9,en;q=0.5,fa;q=0.4", "en", id="english-before-persian"),
        pytest.param("en;q=0.2, fa;q=0.7", "fa", id="weights-not-order"),
        pytest.param("fa;q=0, en;q=0.1", "en", id="q-zero-refuses"),
        pytest.param("de, fr", None, id="neither"),
        pytest.param("", None, id="empty"),
        pytest.param("en;q=abc", None, id="bad-weight-is-refusal"),
    ],
)
def test_accept_language_picks_our_language(header, expected):
    assert accepted_language(header) == expected


async def _ack_text(ctx, code: str) -> str:
    async with ctx.db.session() as s:
        rows = (await s.execute(select(Outbox).where(Outbox.purpose == "ack"))).scalars().all()
    texts = [r.text for r in rows if code in (r.text or "")]
    assert texts, "no acknowledgement queued"
    return texts[0]


async def test_an_english_writers_links_open_english_pages(ctx, client):
    made = await make_case(
        ctx,
        text="The road to our village is broken, please repair it",
        sender="jane@example.com",
        channel=Channel.EMAIL,
    )
    ack = await _ack_text(ctx, made.code)
    link = re.search(r"https?://\S+", ack).group(0)
    assert link.endswith(f"/track?code={made.code}&lang=en")
    page = await (await client.get(link.replace("http://gw.test", ""))).text()
    assert '<html lang="en" dir="ltr">' in page


async def test_a_persian_writers_links_carry_no_language(ctx, client):
    made = await make_case(ctx, text="جادهٔ روستای ما خراب است")
    ack = await _ack_text(ctx, made.code)
    assert f"/track?code={made.code}\n" in ack + "\n" and "lang=" not in ack


async def test_pages_follow_the_browser_unless_chosen(ctx, client):
    english = {"Accept-Language": "en-GB,en;q=0.9"}
    page = await (await client.get("/track", headers=english)).text()
    assert '<html lang="en" dir="ltr">' in page
    page = await (await client.get("/track", headers={"Accept-Language": "fa-IR"})).text()
    assert '<html lang="fa" dir="rtl">' in page
    page = await (await client.get("/track?lang=fa", headers=english)).text()
    assert '<html lang="fa" dir="rtl">' in page  # a chosen language wins, and is remembered
    page = await (await client.get("/track", headers=english)).text()
    assert '<html lang="fa" dir="rtl">' in page


async def test_persian_names_on_english_pages_are_marked(ctx, client):
    page = await (await client.get("/services/20001?lang=en")).text()
    assert '<span lang="fa" dir="rtl">ترمیم راه</span>' in page
    assert '<span lang="fa" dir="rtl">راه و ترابری</span>' in page
    page = await (await client.get("/services/20001?lang=fa")).text()
    assert 'lang="fa" dir="rtl">ترمیم' not in page  # nothing to mark on a Persian page


async def test_the_console_follows_the_browser_too(ctx, client):
    page = await (await client.get("/staff/login", headers={"Accept-Language": "en"})).text()
    assert '<html lang="en" dir="ltr">' in page and "Staff login" in page
    page = await (await client.get("/staff/login")).text()
    assert '<html lang="fa" dir="rtl">' in page and "ورود کارکنان" in page
