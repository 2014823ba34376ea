"""The sms channel (not yet built: messages for it go to the file sender)."""

from __future__ import annotations

from gateway.core.context import GatewayContext


def create(ctx: GatewayContext) -> None:
    """No sms plugin yet; the file sender stands in for outbound sms messages."""
    return None
