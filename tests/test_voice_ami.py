"""Our AMI client against the AMI simulator: login, correlation, lists, events, restarts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from gateway.channels.voice.ami import AmiActionError, AmiClient, AmiMessage, AmiUnavailable
from tests.peers import eventually
from tests.peers.ami_sim import AMISim


async def _true(value: bool) -> bool:
    return value


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[AMISim]:
    s = AMISim()
    await s.start()
    yield s
    await s.stop()


@pytest_asyncio.fixture
async def client(sim: AMISim) -> AsyncIterator[AmiClient]:
    events: list[AmiMessage] = []
    c = AmiClient(
        "127.0.0.1",
        sim.port,
        "gateway",
        "s3cret",
        action_timeout=3,
        ping_seconds=0.2,
        reconnect_max=0.2,
        on_event=events.append,
    )
    c.events = events  # type: ignore[attr-defined]
    c.start()
    assert await c.wait_connected(5)
    yield c
    await c.stop()


async def test_login_and_fully_booted(client: AmiClient, sim: AMISim) -> None:
    await eventually(lambda: _true(any(e.event == "FullyBooted" for e in client.events)), "FullyBooted")
    [login] = sim.actions("Login")
    assert login["username"] == ["gateway"] and login["events"] == ["on"]
    assert client.state == "connected"


async def test_login_failure_is_reported_and_retried_without_crashing(sim: AMISim) -> None:
    sim.auth_fail_delay = 0.1
    c = AmiClient("127.0.0.1", sim.port, "gateway", "wrong", action_timeout=3, reconnect_max=0.2)
    c.start()
    await eventually(lambda: _true(sim.login_failures >= 2), "a retried login")
    assert c.state in ("auth_failed", "connecting") and not await c.wait_connected(0.01)
    with pytest.raises(AmiUnavailable):
        await c.action("Ping", timeout=0.05)
    await c.stop()


async def test_action_ids_correlate_concurrent_actions(client: AmiClient) -> None:
    replies = await asyncio.gather(*(client.action("Ping") for _ in range(20)))
    ids = {r.get("ActionID") for r in replies if isinstance(r, AmiMessage)}
    assert len(ids) == 20 and all(r.get("Ping") == "Pong" for r in replies if isinstance(r, AmiMessage))


async def test_list_action_collects_events_until_complete(client: AmiClient) -> None:
    reply = await client.action("CoreShowChannels")
    assert isinstance(reply, list)
    assert [m.event or m.get("Response") for m in reply] == [
        "Success",
        "CoreShowChannel",
        "CoreShowChannel",
        "CoreShowChannelsComplete",
    ]


async def test_error_response_raises(client: AmiClient) -> None:
    with pytest.raises(AmiActionError, match="Invalid/unknown command"):
        await client.action("NoSuchThing")
    with pytest.raises(AmiActionError, match="Channel not specified"):
        await client.originate([("Context", "x")], action_id="k-err", timeout=2)


@pytest.mark.parametrize(
    "reason", ["0", "1", "3", "4", "5", "8"], ids=["failed", "hung-up", "no-answer", "answered", "busy", "congestion"]
)
async def test_originate_returns_its_response_event(client: AmiClient, sim: AMISim, reason: str) -> None:
    sim.originate_reasons = [reason]
    event = await client.originate([("Channel", "PJSIP/0211@trunk")], action_id=f"key-{reason}", timeout=3)
    assert (event.event, event.get("Reason"), event.get("ActionID")) == ("OriginateResponse", reason, f"key-{reason}")


async def test_event_split_across_reads_keeps_persian_text(client: AmiClient, sim: AMISim) -> None:
    # each cut falls inside the two-byte UTF-8 sequence of «ع» in CallerIDName
    await sim.user_event("FeedbackRecorded", [("GwFile", "/s/incoming/1.wav")], split_at=150)
    await sim.emit("Newchannel", [("CallerIDName", "علی رضایی")], split_at=34)
    await eventually(lambda: _true(len([e for e in client.events if e.event != "FullyBooted"]) == 2), "two events")
    names = [e.get("CallerIDName") for e in client.events if e.event != "FullyBooted"]
    assert names == ["علی رضایی", "علی رضایی"]


async def test_raising_event_handler_does_not_stop_the_reader(sim: AMISim) -> None:
    seen: list[str] = []

    def handler(msg: AmiMessage) -> None:
        seen.append(msg.event)
        raise RuntimeError("bug in a handler")

    c = AmiClient("127.0.0.1", sim.port, "gateway", "s3cret", on_event=handler)
    c.start()
    assert await c.wait_connected(5)
    await sim.emit("Hangup", [("Cause", "16")])
    await eventually(lambda: _true("Hangup" in seen), "event after a failing one")
    assert isinstance(await c.action("Ping"), AmiMessage)
    await c.stop()


async def test_restart_relogin_calls_on_login_again(sim: AMISim) -> None:
    logins: list[int] = []
    c = AmiClient("127.0.0.1", sim.port, "gateway", "s3cret", reconnect_max=0.2)
    c.on_login = lambda: logins.append(c.logins)
    c.start()
    await eventually(lambda: _true(logins == [1]), "first login")
    await sim.restart()
    await eventually(lambda: _true(logins == [1, 2]), "login after restart")
    assert isinstance(await c.action("Ping"), AmiMessage)
    await c.stop()


async def test_pending_action_fails_fast_when_link_drops(client: AmiClient, sim: AMISim) -> None:
    sim.answer_pings = False
    waiting = asyncio.ensure_future(client.action("Ping", timeout=30))
    await asyncio.sleep(0.05)
    await sim.restart()
    with pytest.raises(AmiUnavailable):
        await waiting


async def test_half_open_link_is_dropped_by_the_ping_watchdog(client: AmiClient, sim: AMISim) -> None:
    before = sim.logins
    sim.answer_pings = False  # the link looks open but nothing answers
    await eventually(lambda: _true(sim.logins > before), "reconnect after unanswered ping", limit=20)
    sim.answer_pings = True


def test_frames_keep_repeated_headers() -> None:
    from gateway.channels.voice.ami import build_frame, parse_frame

    raw = build_frame([("Action", "Originate"), ("Variable", "A=1"), ("Variable", "B=2\r\nAction: Evil")])
    msg = parse_frame(raw)
    assert msg.getall("Variable") == ["A=1", "B=2  Action: Evil"]
    assert msg.getall("Action") == ["Originate"]
    assert msg.headers()["variable"] == "A=1"
