"""/services and /services/{code}: the service identity cards from the config, searchable
in Persian (Arabic letter forms, ZWNJ and digits folded)."""

from __future__ import annotations

import pytest

from tests.test_public_common import aiohttp_free_client

CARDS = [
    {
        "code": "10011003113",
        "title": "پاسخگویی به شکایات",
        "unit": "oversight",
        "sla_days": 10,
        "description": "رسیدگی به شکایات شهروندان از عملکرد کارکنان",
        "required_documents": ["شرح شکایت", "مدارک مرتبط"],
        "average_days": 7,
        "cost": "رایگان",
        "channels": ["email", "sms", "web"],
        "legal_basis": "منشور حقوق شهروندی، ماده ۹",
        "keywords": ["گلایه"],
    },
    {
        "code": "10021004001",
        "title": "درخواست ترمیم راه روستایی",
        "unit": "roads",
        "sla_days": 15,
        "description": "ثبت درخواست ترمیم و نگهداری راه‌های روستایی",
        "keywords": ["جاده", "آسفالت"],
    },
]


@pytest.fixture
def cards_config(make_config):
    return make_config(services=CARDS)


@pytest.mark.parametrize(
    "query,found",
    [
        pytest.param("", ["10011003113", "10021004001"], id="no-query-lists-all"),
        pytest.param("شکایت", ["10011003113"], id="title-word"),
        pytest.param("شكايت", ["10011003113"], id="arabic-kaf-and-ye"),
        pytest.param("راه‌های", ["10021004001"], id="zwnj-word"),
        pytest.param("جاده", ["10021004001"], id="keyword"),
        pytest.param("راه و ترابری", ["10021004001"], id="unit-name"),
        pytest.param("۱۰۰۲۱۰۰۴۰۰۱", ["10021004001"], id="code-in-persian-digits"),
        pytest.param("مالیات", [], id="nothing"),
    ],
)
async def test_search_in_persian(cards_config, aiohttp_free_client, query, found):
    async with aiohttp_free_client(cards_config) as (c, _):
        r = await c.get("/services", params={"q": query})
        html = await r.text()
    assert r.status == 200
    for card in CARDS:
        assert (f'href="/services/{card["code"]}"' in html) == (card["code"] in found)
    if not found:
        assert 'id="no-services"' in html


async def test_a_service_card_shows_every_field(cards_config, aiohttp_free_client):
    async with aiohttp_free_client(cards_config) as (c, _):
        html = await (await c.get("/services/10011003113")).text()
        en = await (await c.get("/services/10011003113?lang=en")).text()
        missing = await c.get("/services/999")
    for text in (
        "شناسهٔ خدمت",
        "۱۰۰۱۱۰۰۳۱۱۳",
        "پاسخگویی به شکایات",
        "رسیدگی به شکایات شهروندان",
        "حراست و بازرسی",
        "شرح شکایت",
        "مدارک مرتبط",
        "متوسط مدت",
        "۷",
        "مهلت رسیدگی",
        "۱۰",
        "رایگان",
        "ایمیل، پیامک، درگاه اینترنتی",
        "منشور حقوق شهروندی",
    ):
        assert text in html, text
    assert '<html lang="en" dir="ltr">' in en and "Required documents" in en and "10011003113" in en
    assert missing.status == 404
