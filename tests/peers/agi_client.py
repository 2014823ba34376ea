"""A fake Asterisk for FastAGI tests: it connects like ``AGI(agi://...)`` does.

Written from Asterisk's AGI documentation: the ``agi_*`` environment
block ended by an empty line, then one reply line per command (``200 result=...``), the
multi-line ``520-`` usage reply for a malformed ``SAY DIGITS``, a bare ``HANGUP`` line
when the caller hangs up, and the session ends when the server closes the socket.
"""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import dataclass, field

USAGE_520 = (
    "520-Invalid command syntax.  Proper usage follows:\n"
    "Usage: SAY DIGITS <number> <escape digits>\n"
    "520 End of proper usage.\n"
)


@dataclass
class FakeAsterisk:
    """One AGI call; ``keypad`` feeds GET DATA replies in order; ``hangup_after`` commands."""

    port: int
    script: str
    args: list[str] = field(default_factory=list)
    callerid: str = "09121234567"
    uniqueid: str = "1700000000.42"
    keypad: list[str] = field(default_factory=list)
    hangup_after: int | None = None
    commands: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = {
            "agi_network": "yes",
            "agi_network_script": self.script,
            "agi_request": f"agi://127.0.0.1:{self.port}/{self.script}",
            "agi_channel": "PJSIP/trunk-00000001",
            "agi_language": "fa",
            "agi_type": "PJSIP",
            "agi_uniqueid": self.uniqueid,
            "agi_version": "22.0.0",
            "agi_callerid": self.callerid,
            "agi_calleridname": "علی رضایی",
            "agi_callingpres": "0",
            "agi_dnid": "1555",
            "agi_context": "feedback-record",
            "agi_extension": "s",
            "agi_priority": "9",
            "agi_enhanced": "0.0",
            "agi_accountcode": "",
            "agi_threadid": "140000000",
        }
        env.update({f"agi_arg_{i}": a for i, a in enumerate(self.args, 1)})
        return env

    def answer(self, cmd: str) -> str:
        """Asterisk's reply to one command line."""
        words = shlex.split(cmd)
        verb = " ".join(words[:2]).upper()
        if verb == "SET VARIABLE":
            self.variables[words[2]] = words[3] if len(words) > 3 else ""
            return "200 result=1\n"
        if verb == "SAY DIGITS":
            if len(words) < 4 or not words[2][:1].isdigit():
                return USAGE_520
            return "200 result=0\n"
        if verb == "STREAM FILE":
            return "200 result=0 endpos=12000\n"
        if verb == "GET DATA":
            digits = self.keypad.pop(0) if self.keypad else ""
            return f"200 result={digits}\n" if digits else "200 result= (timeout)\n"
        if verb == "GET VARIABLE":
            value = self.variables.get(words[2])
            return f"200 result=1 ({value})\n" if value is not None else "200 result=0\n"
        return "510 Invalid or unknown command\n"

    async def call(self) -> FakeAsterisk:
        """Run the AGI session to its end (the server closes the socket)."""
        r, w = await asyncio.open_connection("127.0.0.1", self.port)
        w.write("".join(f"{k}: {v}\n" for k, v in self.env().items()).encode() + b"\n")
        await w.drain()
        hung_up = False
        try:
            while line := await r.readline():
                cmd = line.decode().rstrip("\n")
                self.commands.append(cmd)
                if self.hangup_after is not None and len(self.commands) > self.hangup_after:
                    if not hung_up:
                        w.write(b"HANGUP\n")
                        hung_up = True
                    w.write(b"511 Command Not Permitted on a dead channel or intercept routine\n")
                else:
                    w.write(self.answer(cmd).encode())
                await w.drain()
        except ConnectionError:
            pass
        finally:
            w.close()
        return self
