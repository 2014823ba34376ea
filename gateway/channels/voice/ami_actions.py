"""Actions awaiting their answer, keyed by ActionID, and the routing of each incoming AMI
message to its waiter (Asterisk's AMI: each response carries the ActionID it answers).

A plain ``Response`` completes its action.  A response opening an event list
(``EventList: start`` or "will follow") collects the events with the same ActionID up to
``EventList: Complete``.  An async ``Originate`` stays registered after its response
until the ``OriginateResponse`` event with its ActionID.  No I/O here: :mod:`ami` owns
the connection and feeds every message it reads to :meth:`PendingActions.route`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from gateway.channels.voice.ami_frames import AmiMessage, AmiUnavailable


@dataclass(slots=True)
class PendingAction:
    """One action's waiters: its response (a list for event lists), and for Originate the event."""

    future: asyncio.Future[AmiMessage | list[AmiMessage]]
    items: list[AmiMessage] | None = None  # set when the reply opened an event list
    originate: asyncio.Future[AmiMessage] | None = None


class PendingActions:
    """The actions sent on the current link that still wait for something."""

    def __init__(self) -> None:
        self._by_id: dict[str, PendingAction] = {}

    def __contains__(self, action_id: str) -> bool:
        return action_id in self._by_id

    def add(self, action_id: str, originate: asyncio.Future[AmiMessage] | None = None) -> PendingAction:
        """Register an action about to be written; its waiters are created here."""
        pending = PendingAction(asyncio.get_running_loop().create_future(), originate=originate)
        self._by_id[action_id] = pending
        return pending

    def discard(self, action_id: str) -> None:
        """Forget an action (done, or its waiter gave up)."""
        self._by_id.pop(action_id, None)

    def route(self, msg: AmiMessage) -> bool:
        """Hand ``msg`` to the action waiting for it; False if none is (a plain event)."""
        aid = msg.get("ActionID")
        pending = self._by_id.get(aid) if aid else None
        if pending is None:
            return False
        if msg.get("Response") and not pending.future.done():
            if msg.get("EventList").lower() == "start" or "will follow" in msg.get("Message"):
                pending.items = [msg]
            else:
                pending.future.set_result(msg)
                if pending.originate is None:
                    self.discard(aid)
            return True
        if not msg.event:
            return False
        if pending.items is not None and not pending.future.done():
            pending.items.append(msg)
            if msg.get("EventList").lower() == "complete":
                pending.future.set_result(pending.items)
                self.discard(aid)
            return True
        if pending.originate is not None and msg.event == "OriginateResponse":
            if not pending.originate.done():
                pending.originate.set_result(msg)
            return True
        return False

    def fail_all(self) -> None:
        """The link is gone: every waiter learns at once (AmiUnavailable), none is resent."""
        for pending in self._by_id.values():
            for fut in (pending.future, pending.originate):
                if fut is not None and not fut.done():
                    fut.set_exception(AmiUnavailable("connection lost"))
                    fut.exception()  # mark retrieved: a waiter may have given up already
        self._by_id.clear()
