"""Refuse to start with an inbound surface that anyone could call.

Checked by ``gateway check-config`` and before ``gateway run`` (and again when the SMS
channel is built): each provider webhook that will be served needs a secret (from the
environment variable its config names) or ``sms.allow_from``; the generic webhook always
needs its HMAC secret; a FastAGI server bound beyond loopback needs
``voice.agi.allow_from``.  One line per problem, naming the key and the way out.
"""

from __future__ import annotations

import ipaddress

from gateway.core.config.model import Config


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name or "0.0.0.0": reachable from elsewhere


def sms_problems(config: Config) -> list[str]:
    """Problems of the SMS provider's webhooks (empty when they are authenticated)."""
    sms, allow = config.sms, bool(config.sms.allow_from)
    if sms.provider == "kannel" and not allow and not config.secret(sms.kannel.callback_token_env):
        name = sms.kannel.callback_token_env or "(sms.kannel.callback_token_env is empty)"
        return [
            f"sms.kannel: the Kannel callbacks /sms/kannel/mo and /sms/kannel/dlr would accept "
            f"anyone: set the environment variable {name} to a long random secret and give it "
            f"to Kannel in the get-url as http://kannel:<secret>@host/sms/kannel/mo?..., "
            f"or list Kannel's address in sms.allow_from"
        ]
    if (
        sms.provider == "kavenegar"
        and sms.kavenegar.inbound == "forward"
        and not allow
        and not config.secret(sms.kavenegar.forward_token_env)
    ):
        name = sms.kavenegar.forward_token_env or "(sms.kavenegar.forward_token_env is empty)"
        return [
            f"sms.kavenegar: the forwarding URL /sms/kavenegar/inbound would accept anyone: "
            f"set the environment variable {name} and add &token=<secret> to the URL in the "
            f"panel, or list the provider's addresses in sms.allow_from "
            f'(or set sms.kavenegar.inbound = "poll")'
        ]
    if sms.provider == "generic" and not config.secret(sms.generic.secret_env):
        name = sms.generic.secret_env or "(sms.generic.secret_env is empty)"
        return [
            f"sms.generic: the webhooks /sms/generic/inbound and /sms/generic/status are "
            f"signed with HMAC: set the environment variable {name} to the shared secret"
        ]
    return []


def voice_problems(config: Config) -> list[str]:
    """A FastAGI server (no authentication in the protocol) reachable beyond loopback."""
    voice, agi = config.voice, config.voice.agi
    if not voice.enabled or not agi.enabled or _loopback(agi.host) or agi.allow_from:
        return []
    return [
        f"voice.agi: FastAGI has no authentication and would listen on {agi.host}: bind it to "
        f"127.0.0.1 or list Asterisk's address in voice.agi.allow_from"
    ]


def inbound_problems(config: Config) -> list[str]:
    """Every inbound surface that would start unauthenticated, one line each."""
    return sms_problems(config) + voice_problems(config)
