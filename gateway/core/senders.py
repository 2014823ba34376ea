"""The sender registry and the file sender.

A channel registers one sender per channel name; the dispatcher looks senders up here, so
the core never imports a channel.  The :class:`FileSender` writes each outgoing message as
a JSON file (and email as ``.eml``) under ``data_dir/outbox/<channel>/``: the out-of-the-box
sender of a demo install, and the stand-in for a channel that is not configured.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Protocol

from gateway.core.messages import OutboundMessage, SendResult
from gateway.core.private import private_dir, write_private


class Sender(Protocol):
    """Sends one outbound message; must be safe to call again with the same key."""

    async def send(self, message: OutboundMessage) -> SendResult: ...


class SenderRegistry:
    """Channel name -> sender, with a fallback for channels that have none."""

    def __init__(self, fallback: Sender | None = None) -> None:
        self._senders: dict[str, Sender] = {}
        self.fallback = fallback

    def register(self, channel: str, sender: Sender) -> None:
        self._senders[channel] = sender

    def get(self, channel: str) -> Sender | None:
        return self._senders.get(channel, self.fallback)


class FileSender:
    """Write messages to files named by their idempotency key (a resend overwrites)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _write(self, message: OutboundMessage) -> Path:
        folder = private_dir(self.root / message.channel.value)
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in message.idempotency_key)
        path = folder / f"{name}.json"
        data = {
            "outbox_id": message.outbox_id,
            "channel": message.channel.value,
            "purpose": message.purpose,
            "to": message.recipient,
            "subject": message.subject,
            "text": message.text,
            "html": message.html,
            "case": message.case_code,
            "key": message.idempotency_key,
            "payload": message.payload,
        }
        write_private(path, json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8"))
        return path

    async def send(self, message: OutboundMessage) -> SendResult:
        try:
            path = await asyncio.to_thread(self._write, message)
        except OSError as e:
            return SendResult.temporary("file_error", str(e))
        return SendResult.sent(provider_id=path.name)
