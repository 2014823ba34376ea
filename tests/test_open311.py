"""Open311 GeoReport v2 under /open311/v2/, checked field by field against the spec's
examples (open311.github.io GeoReport_v2), in JSON and XML, including error bodies."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from gateway.core.calendar import work_calendar
from gateway.core.config import CalendarSection
from gateway.core.messages import Channel, Kind
from gateway.core.models import Case, Message, Outbox
from tests.test_public_common import aiohttp_free_client, make_case

KEY = "k-open311-test"
SERVICES = [
    {
        "code": "10011003113",
        "title": "پاسخگویی به شکایات",
        "unit": "oversight",
        "sla_days": 10,
        "description": "رسیدگی به شکایات",
        "required_documents": ["شرح شکایت", "مدارک مرتبط"],
        "keywords": ["گلایه", "اعتراض"],
    },
    {"code": "20001", "title": "ترمیم راه", "unit": "roads", "sla_days": 15, "description": "چاله و خرابی راه"},
]
# The spec's example POST, with our service code and a Tehran location.
SPEC_POST = {
    "api_key": KEY,
    "jurisdiction_id": "example.ir",
    "service_code": "20001",
    "lat": "35.6892",
    "long": "51.3890",
    "address_string": "خیابان آزادی، پلاک ۱۲",
    "email": "Citizen@Example.ir",
    "device_id": "tt222111",
    "account_id": "123456",
    "first_name": "john",
    "last_name": "smith",
    "phone": "111111111",
    "description": "A large sinkhole is destroying the street",
    "media_url": "http://farm3.static.flickr.com/2002/2212426634_5ed477a060.jpg",
    "attribute[WHISPAWN]": "123456",
    "attribute[WHISDORN]": "COISL001",
}
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]


@pytest.fixture
def o311(make_config, aiohttp_free_client, monkeypatch):
    monkeypatch.setenv("GATEWAY_OPEN311_API_KEYS", f"other-key, {KEY}")
    cfg = make_config(
        services=SERVICES,
        open311={"jurisdiction_id": "example.ir", "contact": "311@example.ir", "key_service": "https://example.ir/key"},
        web={"track_burst": 50, "open311_burst": 50},
    )
    return aiohttp_free_client(cfg)


def xml_of(text: str) -> ET.Element:
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(text.split("?>", 1)[1])


async def test_discovery(o311):
    async with o311 as (c, _):
        data = await (await c.get("/open311/v2/discovery.json")).json()
        root = xml_of(await (await c.get("/open311/v2/discovery.xml")).text())
    assert list(data) == ["changeset", "contact", "key_service", "endpoints"]
    assert data["contact"] == "311@example.ir" and data["key_service"] == "https://example.ir/key"
    [ep] = data["endpoints"]
    assert ep == {
        "specification": "http://wiki.open311.org/GeoReport_v2",
        "url": "http://gw.test/open311/v2",
        "changeset": data["changeset"],
        "type": "production",
        "formats": ["text/xml", "application/json"],
    }
    assert root.tag == "discovery"
    assert [f.text for f in root.find("endpoints/endpoint/formats")] == ["text/xml", "application/json"]


async def test_service_list(o311):
    async with o311 as (c, _):
        r = await c.get("/open311/v2/services.json", params={"jurisdiction_id": "example.ir"})
        data = await r.json()
        root = xml_of(await (await c.get("/open311/v2/services.xml")).text())
    assert r.status == 200 and r.content_type == "application/json"
    assert data[0] == {
        "service_code": "10011003113",
        "service_name": "پاسخگویی به شکایات",
        "description": "رسیدگی به شکایات",
        "metadata": True,
        "type": "realtime",
        "keywords": "گلایه, اعتراض",
        "group": "حراست و بازرسی",
    }
    assert data[1]["metadata"] is False and data[1]["group"] == "راه و ترابری"
    assert root.tag == "services" and [s.tag for s in root] == ["service", "service"]
    assert [e.tag for e in root[0]] == [
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    ]
    assert root[0].find("metadata").text == "true" and root[1].find("keywords").text is None


async def test_service_definition(o311):
    async with o311 as (c, _):
        data = await (await c.get("/open311/v2/services/10011003113.json")).json()
        root = xml_of(await (await c.get("/open311/v2/services/10011003113.xml")).text())
        missing = await c.get("/open311/v2/services/999.json")
        missing_body = await missing.json()
    assert data["service_code"] == "10011003113"
    assert data["attributes"][0] == {
        "variable": False,
        "code": "DOC1",
        "datatype": "text",
        "required": False,
        "datatype_description": None,
        "order": 1,
        "description": "شرح شکایت",
        "values": [],
    }
    assert root.tag == "service_definition" and root.find("attributes/attribute/variable").text == "false"
    assert missing.status == 404
    assert missing_body == [{"code": 404, "description": "service_code 999 was not found"}]


async def test_post_request_creates_a_web_case_acknowledged_by_email(o311):
    async with o311 as (c, ctx):
        r = await c.post("/open311/v2/requests.json", data=SPEC_POST)
        [body] = await r.json()
        rx = await c.post("/open311/v2/requests.xml", data={**SPEC_POST, "email": "", "phone": "0912 123 4567"})
        root = xml_of(await rx.text())
        async with ctx.db.session() as s:
            case = (await s.execute(select(Case).where(Case.code == body["service_request_id"]))).scalar_one()
            msg = (await s.execute(select(Message).where(Message.case_id == case.id))).scalars().first()
            acks = list((await s.execute(select(Outbox).where(Outbox.purpose == "ack").order_by(Outbox.id))).scalars())
    assert r.status == 200 and list(body) == ["service_request_id", "service_notice", "account_id"]
    assert len(body["service_request_id"]) == 10 and body["account_id"] == "123456"
    assert "۱۵ روز" in body["service_notice"]
    assert case.channel == "web" and case.service_code == "20001" and case.unit_code == "roads"
    assert case.contact == "Citizen@Example.ir" and case.contact_name == "john smith"
    assert msg.provider == "open311" and msg.text == SPEC_POST["description"]
    assert msg.meta["lat"] == 35.6892 and msg.meta["long"] == 51.389
    assert msg.meta["address_string"] == SPEC_POST["address_string"]
    assert msg.meta["attributes"] == {"WHISPAWN": "123456", "WHISDORN": "COISL001"}
    assert [(a.channel, a.recipient) for a in acks] == [("email", "Citizen@Example.ir"), ("sms", "+989121234567")]
    assert body["service_request_id"] in acks[0].text
    assert root.tag == "service_requests" and [e.tag for e in root[0]] == [
        "service_request_id",
        "service_notice",
        "account_id",
    ]


async def test_post_request_idempotency_key_and_anonymous(o311):
    async with o311 as (c, ctx):
        data = {k: SPEC_POST[k] for k in ("api_key", "service_code", "address_string", "description")}
        first = await (await c.post("/open311/v2/requests.json", data=data, headers={"Idempotency-Key": "abc"})).json()
        again = await (await c.post("/open311/v2/requests.json", data=data, headers={"Idempotency-Key": "abc"})).json()
        other = await (await c.post("/open311/v2/requests.json", data=data)).json()
        async with ctx.db.session() as s:
            acks = (await s.execute(select(Outbox))).scalars().all()
            anon = (await s.execute(select(Case).where(Case.code == other[0]["service_request_id"]))).scalar_one()
    assert first[0]["service_request_id"] == again[0]["service_request_id"] != other[0]["service_request_id"]
    assert first[0]["account_id"] is None and acks == [] and anon.anonymous


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    "change,status,description",
    [
        pytest.param(
            {"api_key": "wrong"}, 403, "Invalid api_key received -- can't proceed with create_request.", id="bad-key"
        ),
        pytest.param(
            {"api_key": ""}, 403, "Invalid api_key received -- can't proceed with create_request.", id="no-key"
        ),
        pytest.param({"service_code": ""}, 400, "service_code was not provided", id="no-service-code"),
        pytest.param({"service_code": "777"}, 404, "service_code 777 was not found", id="unknown-service-code"),
        pytest.param(
            {"jurisdiction_id": "other.ir"}, 404, "jurisdiction_id other.ir was not found", id="unknown-jurisdiction"
        ),
        pytest.param(
            {"lat": "", "long": "", "address_string": ""},
            400,
            "A location is required: lat and long, address_string or address_id",
            id="no-location",
        ),
        pytest.param(
            {"lat": "95", "address_string": ""}, 400, "lat and long are out of range (WGS84)", id="lat-out-of-range"
        ),
        pytest.param({"lat": "north"}, 400, "lat and long must both be numbers (WGS84)", id="lat-not-a-number"),
        pytest.param(
            {"description": "x" * 4001}, 400, "description is longer than 4000 characters", id="description-too-long"
        ),
        pytest.param({"email": "not-an-address"}, 400, "email is not a valid email address", id="bad-email"),
        pytest.param({"email": "", "phone": "12"}, 400, "phone is not a valid phone number", id="bad-phone"),
    ],
)
async def test_post_request_errors(o311, fmt, change, status, description):
    async with o311 as (c, ctx):
        r = await c.post(f"/open311/v2/requests.{fmt}", data={**SPEC_POST, **change})
        text = await r.text()
        async with ctx.db.session() as s:
            assert (await s.execute(select(Case))).first() is None
    assert r.status == status
    if fmt == "json":
        assert r.content_type == "application/json"
        assert await r.json() == [{"code": status, "description": description}]
    else:
        root = xml_of(text)
        assert root.tag == "errors" and [e.tag for e in root[0]] == ["code", "description"]
        assert root.find("error/code").text == str(status) and root.find("error/description").text == description


async def _requests(c, fmt="json", **params):
    r = await c.get(f"/open311/v2/requests.{fmt}", params=params)
    return r, (await r.json() if fmt == "json" else xml_of(await r.text()))


async def test_get_requests_fields_and_filters(o311):
    async with o311 as (c, ctx):
        ids = []
        for service in ("20001", "10011003113"):
            r = await c.post("/open311/v2/requests.json", data={**SPEC_POST, "service_code": service})
            ids.append((await r.json())[0]["service_request_id"])
        sms_case = await make_case(ctx)  # not from Open311: never listed without its id
        secret = await make_case(ctx, kind=Kind.VIOLATION_REPORT, text="گزارش تخلف", channel=Channel.SMS)
        async with ctx.db.session() as s:
            (await s.execute(select(Case).where(Case.code == ids[1]))).scalar_one().status = "closed"
        _, everything = await _requests(c)
        _, by_service = await _requests(c, service_code="20001")
        _, closed = await _requests(c, status="closed")
        _, open_ = await _requests(c, status="open")
        now = datetime.now(UTC)
        _, in_range = await _requests(c, start_date=(now - timedelta(days=1)).isoformat(), end_date=now.isoformat())
        _, old = await _requests(c, start_date="2010-01-01T00:00:00Z", end_date="2010-02-01T00:00:00Z")
        _, by_id = await _requests(c, service_request_id=f"{ids[0]},{sms_case.code},{secret.code}", status="closed")
        too_wide, wide = await _requests(c, start_date="2024-01-01T00:00:00Z", end_date="2024-06-01T00:00:00Z")
        bad_status, bad = await _requests(c, status="pending")
        _, xml = await _requests(c, "xml")
    assert sorted(r["service_request_id"] for r in everything) == sorted(ids)
    first = next(r for r in everything if r["service_request_id"] == ids[0])
    assert list(first) == REQUEST_FIELDS
    assert first["status"] == "open" and first["status_notes"] == "در حال بررسی"
    assert first["service_name"] == "ترمیم راه" and first["service_code"] == "20001"
    assert first["description"] == SPEC_POST["description"] and first["agency_responsible"] == "راه و ترابری"
    assert first["address"] == SPEC_POST["address_string"] and first["lat"] == 35.6892 and first["long"] == 51.389
    assert first["media_url"] == SPEC_POST["media_url"] and first["zipcode"] is None
    assert first["requested_datetime"].endswith("+03:30")  # w3 with the zone (Asia/Tehran)
    cal = work_calendar(CalendarSection(), "Asia/Tehran")  # 15 working days
    requested = datetime.fromisoformat(first["requested_datetime"])
    assert datetime.fromisoformat(first["expected_datetime"]) == cal.due_at(requested, 15)
    assert [r["service_request_id"] for r in by_service] == [ids[0]]
    assert [r["service_request_id"] for r in closed] == [ids[1]] and [r["service_request_id"] for r in open_] == [
        ids[0]
    ]
    assert len(in_range) == 2 and old == []
    # service_request_id overrides every other filter; the confidential case stays out.
    assert sorted(r["service_request_id"] for r in by_id) == sorted([ids[0], sms_case.code])
    assert next(r for r in by_id if r["service_request_id"] == sms_case.code)["description"] is None
    assert too_wide.status == 400 and wide == [
        {"code": 400, "description": "start_date to end_date may not span more than 90 days"}
    ]
    assert bad_status.status == 400 and bad[0]["description"] == "status pending is not one of open, closed"
    assert xml.tag == "service_requests" and [e.tag for e in xml[0]] == REQUEST_FIELDS


async def test_get_one_request(o311):
    async with o311 as (c, ctx):
        r = await c.post("/open311/v2/requests.json", data=SPEC_POST)
        code = (await r.json())[0]["service_request_id"]
        one = await (await c.get(f"/open311/v2/requests/{code}.json")).json()
        root = xml_of(await (await c.get(f"/open311/v2/requests/{code}.xml")).text())
        missing = await c.get("/open311/v2/requests/1234567890.xml")
        missing_xml = xml_of(await missing.text())
        junk = await c.get("/open311/v2/requests/abc.json")
        secret = await make_case(ctx, kind=Kind.VIOLATION_REPORT, text="گزارش تخلف")
        hidden = await c.get(f"/open311/v2/requests/{secret.code}.json")
    assert len(one) == 1 and list(one[0]) == REQUEST_FIELDS and one[0]["service_request_id"] == code
    assert root.tag == "service_requests" and root.find("request/service_request_id").text == code
    assert root.find("request/lat").text == "35.6892"
    assert missing.status == 404 and missing_xml.find("error/code").text == "404"
    assert junk.status == 404 and hidden.status == 404


async def test_unknown_methods_and_tokens_answer_in_open311_format(o311):
    async with o311 as (c, _):
        r = await c.get("/open311/v2/tokens/123.json")
        x = await c.get("/open311/v2/nothing")
        assert r.status == 404 and (await r.json())[0]["code"] == 404
        assert x.status == 404 and xml_of(await x.text()).tag == "errors"


async def test_posting_is_rate_limited(make_config, aiohttp_free_client, monkeypatch):
    monkeypatch.setenv("GATEWAY_OPEN311_API_KEYS", KEY)
    cfg = make_config(services=SERVICES, web={"open311_burst": 2, "open311_per_minute": 1})
    async with aiohttp_free_client(cfg) as (c, _):
        codes = [(await c.post("/open311/v2/requests.json", data=SPEC_POST)).status for _ in range(3)]
        r = await c.get("/open311/v2/services.xml")
        assert codes == [200, 200, 429]
        assert r.status == 429 and "Retry-After" in r.headers
        assert xml_of(await r.text()).find("error/description").text == "Too many requests; try again later."
