"""Matching AMI answers to pending actions by ActionID (pure: no link), as a case table:
the messages that arrive, whether each is taken by the action, and what its waiters get."""

from __future__ import annotations

import asyncio

import pytest

from gateway.channels.voice.ami_actions import PendingActions
from gateway.channels.voice.ami_frames import AmiMessage, AmiUnavailable


def m(*pairs: tuple[str, str]) -> AmiMessage:
    return AmiMessage(tuple(pairs))


OK = m(("Response", "Success"), ("ActionID", "a1"), ("Ping", "Pong"))
LIST_START = m(("Response", "Success"), ("ActionID", "a1"), ("EventList", "start"), ("Message", "Channels will follow"))
ITEM = m(("Event", "CoreShowChannel"), ("ActionID", "a1"))
LIST_END = m(("Event", "CoreShowChannelsComplete"), ("ActionID", "a1"), ("EventList", "Complete"))
QUEUED = m(("Response", "Success"), ("ActionID", "a1"), ("Message", "Originate successfully queued"))
ORIGINATED = m(("Event", "OriginateResponse"), ("ActionID", "a1"), ("Response", "Success"), ("Reason", "4"))
OTHER_ID = m(("Event", "Hangup"), ("ActionID", "zz"))
NO_ID = m(("Event", "FullyBooted"))


@pytest.mark.parametrize(
    "originate, incoming, taken, result, still_pending",
    [
        pytest.param(False, [OK], [True], OK, False, id="plain-response"),
        pytest.param(
            False,
            [LIST_START, ITEM, NO_ID, ITEM, LIST_END],
            [True, True, False, True, True],
            [LIST_START, ITEM, ITEM, LIST_END],
            False,
            id="event-list",
        ),
        pytest.param(False, [OTHER_ID, OK], [False, True], OK, False, id="other-actionid-is-an-event"),
        pytest.param(True, [QUEUED, ORIGINATED], [True, True], QUEUED, True, id="originate"),
        pytest.param(False, [OK, ITEM], [True, False], OK, False, id="late-event-after-done"),
    ],
)
async def test_route(
    originate: bool, incoming: list[AmiMessage], taken: list[bool], result: object, still_pending: bool
) -> None:
    actions = PendingActions()
    event = asyncio.get_running_loop().create_future() if originate else None
    pending = actions.add("a1", event)
    assert [actions.route(msg) for msg in incoming] == taken
    assert pending.future.result() == result
    assert ("a1" in actions) is still_pending
    if event is not None:
        assert event.result() is ORIGINATED


async def test_fail_all_tells_every_waiter_and_forgets_them() -> None:
    actions = PendingActions()
    plain = actions.add("a1")
    orig = actions.add("a2", asyncio.get_running_loop().create_future())
    actions.fail_all()
    for fut in (plain.future, orig.future, orig.originate):
        assert fut is not None and isinstance(fut.exception(), AmiUnavailable)
    assert "a1" not in actions and "a2" not in actions
