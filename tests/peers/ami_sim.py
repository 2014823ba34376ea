"""An asyncio AMI server double, written from the protocol facts in
Asterisk's AMI documentation (Asterisk 22, AMI 11.0.0).

Faithful in what the gateway relies on: the banner line without a blank line, Login
(success + FullyBooted; failure: 1 s sleep, ``Authentication failed``, close), ``Permission
denied`` before login, Ping, Logoff (Goodbye + close), ActionID echo, an event-list action
(``CoreShowChannels``), async Originate (queued, then ``OriginateResponse`` with a scripted
Reason), events written across several TCP writes, and a restart on the same port.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine, Iterable

Pairs = list[tuple[str, str]]
# OriginateResponse Reason -> Response header (Asterisk main/manager.c, AST_CONTROL_* values).
REASON_RESPONSE = {"4": "Success", "0": "Failure", "1": "Failure", "3": "Failure", "5": "Failure", "8": "Failure"}


def frame(pairs: Iterable[tuple[str, str]]) -> bytes:
    """One AMI message: ``Key: Value`` lines and an empty line, CRLF throughout."""
    return ("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode("utf-8")


class AMISim:
    """Scripted Asterisk Manager Interface on 127.0.0.1."""

    def __init__(
        self,
        users: dict[str, str] | None = None,
        banner: str = "Asterisk Call Manager/11.0.0",
        auth_fail_delay: float = 1.0,
    ) -> None:
        self.users = users or {"gateway": "s3cret"}
        self.banner, self.auth_fail_delay = banner, auth_fail_delay
        self.writers: list[asyncio.StreamWriter] = []
        self.authed: set[asyncio.StreamWriter] = set()
        self.received: list[dict[str, list[str]]] = []
        self.originate_reasons: list[str] = []  # consumed one per Originate; default "4"
        self.answer_pings = True  # False: a half-open link (Ping never answered)
        self.logins = 0
        self.login_failures = 0
        self.port = 0
        self._uid = itertools.count(1)
        self.server: asyncio.Server | None = None
        self._tasks: set[asyncio.Future[None]] = set()

    async def start(self, port: int = 0) -> int:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", port or self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Close the listener and every connection (an Asterisk stop or crash)."""
        if self.server is not None:
            self.server.close()
        for w in list(self.writers):
            w.close()
        self.writers.clear()
        self.authed.clear()
        if self.server is not None:
            await self.server.wait_closed()
            self.server = None

    async def restart(self) -> None:
        """Asterisk restarted: connections drop, it comes back on the same port."""
        await self.stop()
        await self.start(self.port)

    def actions(self, name: str) -> list[dict[str, list[str]]]:
        """Received actions of one name (headers lower-cased, repeats kept in lists)."""
        return [m for m in self.received if m.get("action", [""])[0].lower() == name.lower()]

    async def wait_logins(self, count: int) -> None:
        while self.logins < count:
            await asyncio.sleep(0.01)

    async def emit(self, name: str, pairs: Pairs, split_at: int | None = None) -> None:
        """Send an event to logged-in clients; ``split_at`` forces a TCP read boundary."""
        data = frame([("Event", name), *pairs])
        for w in list(self.authed):
            if split_at:
                w.write(data[:split_at])
                await w.drain()
                await asyncio.sleep(0.05)
                w.write(data[split_at:])
            else:
                w.write(data)
            await w.drain()

    async def user_event(
        self,
        name: str,
        body: Pairs,
        uniqueid: str = "1700000000.1",
        callerid: str = "09121234567",
        split_at: int | None = None,
    ) -> None:
        """A dialplan ``UserEvent(Name,...)``: channel snapshot, ``UserEvent``, then the body."""
        snapshot = [
            ("Privilege", "user,all"),
            ("Channel", "PJSIP/trunk-00000001"),
            ("ChannelState", "6"),
            ("ChannelStateDesc", "Up"),
            ("CallerIDNum", callerid),
            ("CallerIDName", "علی رضایی"),
            ("Context", "feedback-hangup"),
            ("Exten", "s"),
            ("Priority", "1"),
            ("Uniqueid", uniqueid),
            ("Linkedid", uniqueid),
        ]
        await self.emit("UserEvent", [*snapshot, ("UserEvent", name), *body], split_at)

    async def _client(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write((self.banner + "\r\n").encode())
        self.writers.append(w)
        try:
            while True:
                raw = await r.readuntil(b"\r\n\r\n")
                msg: dict[str, list[str]] = {}
                for line in raw.decode("utf-8").split("\r\n"):
                    if ": " in line:
                        k, v = line.split(": ", 1)
                        msg.setdefault(k.lower(), []).append(v)
                self.received.append(msg)
                aid = [("ActionID", msg["actionid"][0])] if "actionid" in msg else []
                await self._dispatch(w, msg, aid)
                await w.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except asyncio.CancelledError:
            pass  # the test loop is closing; asyncio 3.11 logs a cancelled handler as an error
        finally:
            if w in self.writers:
                self.writers.remove(w)
            self.authed.discard(w)
            w.close()

    async def _dispatch(self, w: asyncio.StreamWriter, m: dict[str, list[str]], aid: Pairs) -> None:
        act = m.get("action", [""])[0].lower()
        one = {k: v[0] for k, v in m.items()}
        if act == "login":
            if self.users.get(one.get("username", "")) == one.get("secret"):
                self.authed.add(w)
                self.logins += 1
                w.write(frame([("Response", "Success"), *aid, ("Message", "Authentication accepted")]))
                w.write(
                    frame(
                        [
                            ("Event", "FullyBooted"),
                            ("Privilege", "system,all"),
                            ("Uptime", "5"),
                            ("LastReload", "5"),
                            ("Status", "Fully Booted"),
                        ]
                    )
                )
            else:
                self.login_failures += 1
                await asyncio.sleep(self.auth_fail_delay)
                w.write(frame([("Response", "Error"), *aid, ("Message", "Authentication failed")]))
                await w.drain()
                w.close()
        elif w not in self.authed:
            w.write(frame([("Response", "Error"), *aid, ("Message", "Permission denied")]))
        elif act == "ping":
            if self.answer_pings:
                w.write(frame([("Response", "Success"), *aid, ("Ping", "Pong"), ("Timestamp", "1700000000.000000")]))
        elif act == "logoff":
            w.write(frame([("Response", "Goodbye"), *aid, ("Message", "Thanks for all the fish.")]))
            await w.drain()
            w.close()
        elif act == "coreshowchannels":
            self._list(w, aid)
        elif act == "originate":
            self._originate(w, one, aid)
        elif act == "userevent":
            w.write(frame([("Response", "Success"), *aid]))
            body = [(k, v[0]) for k, v in m.items() if k not in ("action", "actionid", "userevent")]
            self._spawn(self.user_event(one.get("userevent", ""), body))
        else:
            w.write(frame([("Response", "Error"), *aid, ("Message", "Invalid/unknown command")]))

    def _list(self, w: asyncio.StreamWriter, aid: Pairs) -> None:
        w.write(frame([("Response", "Success"), *aid, ("EventList", "start"), ("Message", "Channels will follow")]))
        for n in (1, 2):
            w.write(
                frame(
                    [
                        ("Event", "CoreShowChannel"),
                        *aid,
                        ("Channel", f"PJSIP/trunk-0000000{n}"),
                        ("Uniqueid", f"1700000000.{n}"),
                    ]
                )
            )
        w.write(frame([("Event", "CoreShowChannelsComplete"), *aid, ("EventList", "Complete"), ("ListItems", "2")]))

    def _originate(self, w: asyncio.StreamWriter, m: dict[str, str], aid: Pairs) -> None:
        if "channel" not in m:
            w.write(frame([("Response", "Error"), *aid, ("Message", "Channel not specified")]))
            return
        w.write(frame([("Response", "Success"), *aid, ("Message", "Originate successfully queued")]))
        reason = self.originate_reasons.pop(0) if self.originate_reasons else "4"
        uid = m.get("channelid") or f"1700000100.{next(self._uid)}"

        async def later() -> None:
            await asyncio.sleep(0.02)  # the call rings somewhere else meanwhile
            if w in self.authed:
                w.write(
                    frame(
                        [
                            ("Event", "OriginateResponse"),
                            ("Privilege", "call,all"),
                            *aid,
                            ("Response", REASON_RESPONSE.get(reason, "Failure")),
                            ("Channel", m["channel"]),
                            ("Context", m.get("context", "")),
                            ("Exten", m.get("exten", "")),
                            ("Reason", reason),
                            ("Uniqueid", uid),
                            ("CallerIDNum", "<unknown>"),
                            ("CallerIDName", "<unknown>"),
                        ]
                    )
                )

        self._spawn(later())

    def _spawn(self, coro: Coroutine[None, None, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
