"""Routing rules and classification, as tables."""

import pytest

from gateway.core.config import RoutingRule
from gateway.core.messages import Channel, Kind
from gateway.core.routing import RouteInput, classify, kind_from_word, route

RULES = [
    RoutingRule(unit="oversight", kind=Kind.VIOLATION_REPORT),
    RoutingRule(unit="roads", keywords=["جاده", "road"]),
    RoutingRule(unit="sms-desk", channel=Channel.SMS, kind=Kind.SUGGESTION),
    RoutingRule(unit="complaints", recipient="complaints@example.ir"),
    RoutingRule(unit="health", service="30001"),
]


@pytest.mark.parametrize(
    "item,unit",
    [
        pytest.param(
            RouteInput(Kind.VIOLATION_REPORT, Channel.EMAIL, text="جاده"), "oversight", id="violation-beats-keywords"
        ),
        pytest.param(RouteInput(Kind.REQUEST, Channel.EMAIL, text="جاده خراب است"), "roads", id="keyword"),
        pytest.param(
            RouteInput(Kind.REQUEST, Channel.EMAIL, text="The ROAD is broken"), "roads", id="keyword-english-case"
        ),
        pytest.param(RouteInput(Kind.SUGGESTION, Channel.SMS, text="x"), "sms-desk", id="channel-and-kind"),
        pytest.param(RouteInput(Kind.SUGGESTION, Channel.EMAIL, text="x"), "pr", id="channel-mismatch-default"),
        pytest.param(
            RouteInput(Kind.REQUEST, Channel.EMAIL, "Complaints@Example.ir", text="x"), "complaints", id="recipient"
        ),
        pytest.param(RouteInput(Kind.REQUEST, Channel.WEB, service_code="30001"), "health", id="service"),
        pytest.param(RouteInput(Kind.REQUEST, Channel.WEB, text="جاده‌ها خراب‌اند"), "roads", id="zwnj-plural-matches"),
        pytest.param(RouteInput(Kind.REQUEST, Channel.WEB, text="جاده‌سازی"), "roads", id="zwnj-compound-matches"),
        pytest.param(RouteInput(Kind.REQUEST, Channel.WEB, text="جادهسازی"), "pr", id="glued-word-no-match"),
        pytest.param(RouteInput(Kind.REQUEST, Channel.WEB, text="hello"), "pr", id="default"),
    ],
)
def test_route(item, unit):
    assert route(item, RULES, "pr", "oversight") == unit


def test_violation_reports_go_to_oversight_even_without_rules():
    assert route(RouteInput(Kind.VIOLATION_REPORT, Channel.SMS), [], "pr", "oversight") == "oversight"


@pytest.mark.parametrize(
    "text,hint,kind",
    [
        pytest.param("شکایت از کارمند", None, Kind.COMPLAINT, id="complaint"),
        pytest.param("شكايت از کارمند", None, Kind.COMPLAINT, id="arabic-letters"),
        pytest.param("پیشنهادی دارم", None, Kind.SUGGESTION, id="suffix"),
        pytest.param("گزارش تخلف و رشوه", None, Kind.VIOLATION_REPORT, id="violation"),
        pytest.param("انتقاد دارم و شکایت", None, Kind.CRITICISM, id="earliest-wins"),
        pytest.param("I want to complain", None, Kind.COMPLAINT, id="english"),
        pytest.param("سلام", None, Kind.REQUEST, id="default-request"),
        pytest.param("شکایت", Kind.SUGGESTION, Kind.SUGGESTION, id="hint-wins"),
        pytest.param("two complaints about staff", None, Kind.COMPLAINT, id="english-plural"),
    ],
)
def test_classify(text, hint, kind):
    assert classify(text, hint) == kind


def test_extra_keywords_from_config():
    assert classify("گلایه دارم", None, {Kind.COMPLAINT: ["گلایه"]}) is Kind.COMPLAINT


@pytest.mark.parametrize(
    "word,kind",
    [("شکایت", Kind.COMPLAINT), ("تخلف", Kind.VIOLATION_REPORT), ("Suggestion", Kind.SUGGESTION), ("سلام", None)],
)
def test_kind_from_word(word, kind):
    assert kind_from_word(word) == kind
