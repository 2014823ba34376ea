"""Reassembly of concatenated SMS for providers that pass the parts one by one.

Kannel reassembles by itself.  Others may give a UDH (3GPP TS 23.040 section 9.2.3.24.1:
``05 00 03 <ref8> <total> <seq>`` or ``06 08 04 <ref16> <total> <seq>``).  Parts wait in
``ctx.state`` (durable, so a restart loses nothing) under the sender and reference; the
whole text goes to intake once every part is there.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

from gateway.channels.sms.parse import IncomingSms
from gateway.core.state import StateStore


@dataclass(frozen=True, slots=True)
class PartInfo:
    """Where one part sits in a concatenated message."""

    ref: int
    total: int
    seq: int


def parse_udh(hex_udh: str) -> PartInfo | None:
    """The concatenation element of a hex UDH, or None if there is none (or it is bad)."""
    try:
        data = bytes.fromhex(hex_udh.strip())
    except ValueError:
        return None
    if not data or data[0] + 1 > len(data):
        return None
    i, end = 1, data[0] + 1
    while i + 1 < end:
        iei, length = data[i], data[i + 1]
        body = data[i + 2 : i + 2 + length]
        if iei == 0x00 and length == 3 and len(body) == 3:
            return _valid(PartInfo(body[0], body[1], body[2]))
        if iei == 0x08 and length == 4 and len(body) == 4:
            return _valid(PartInfo(body[0] << 8 | body[1], body[2], body[3]))
        i += 2 + length
    return None


def _valid(part: PartInfo) -> PartInfo | None:
    return part if 1 <= part.seq <= part.total <= 255 else None


class Reassembler:
    """Collect parts in ``ctx.state``; hand back the whole SMS when complete."""

    def __init__(self, state: StateStore) -> None:
        self.state = state
        self._locks: dict[str, asyncio.Lock] = {}

    @staticmethod
    def key(sms: IncomingSms, part: PartInfo) -> str:
        return f"sms:parts:{sms.provider}:{sms.sender}:{part.ref}:{part.total}"

    async def add(self, sms: IncomingSms, part: PartInfo) -> IncomingSms | None:
        """Store one part; return the reassembled SMS once all parts are in."""
        if part.total == 1:
            return sms
        key = self.key(sms, part)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            held = await self.state.get(key) or {}
            if sms.external_id in held.get("done", []):
                return None  # a late retry of a part already delivered as a whole
            parts: dict[str, list[str]] = held.get("parts", {})
            parts[str(part.seq)] = [sms.external_id, sms.text]
            if len(parts) < part.total:
                await self.state.put(key, {"parts": parts})
                return None
            ordered = [parts[str(i)] for i in range(1, part.total + 1)]
            return replace(sms, external_id=f"concat:{ordered[0][0]}", text="".join(text for _, text in ordered))

    async def finish(self, sms: IncomingSms, part: PartInfo) -> None:
        """Forget the parts of a message that intake has stored."""
        if part.total == 1:
            return
        key = self.key(sms, part)
        held = await self.state.get(key) or {}
        done = [ids for ids, _ in held.get("parts", {}).values()]
        await self.state.put(key, {"done": done})
        self._locks.pop(key, None)
