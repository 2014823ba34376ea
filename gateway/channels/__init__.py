"""Channel packages.  Each has the same file set (inbound side, parse, sender) and a
``create(ctx)`` factory; adding a channel is one line in :data:`CHANNELS`.

A channel imports ``gateway.core`` only, never another channel and never ``gateway.web``.
"""

CHANNELS: dict[str, str] = {
    "email": "gateway.channels.email",
    "sms": "gateway.channels.sms",
    "voice": "gateway.channels.voice",
}
