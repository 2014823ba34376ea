"""Who may call an SMS webhook: a shared secret, an address allowlist, or both.

Every inbound webhook (MO, status, DLR) passes :meth:`WebhookGuard.allows` before it is
read.  ``sms.allow_from`` lists the networks the provider calls from (the socket's peer
address, never a forwarded header); the provider's secret comes, in this order of
preference, from ``Authorization: Basic`` (its password part: Kannel sends it when the
get-url carries ``http://kannel:<secret>@host/...``), from ``X-Gateway-Token``, and only
where the provider can send nothing else (Kavenegar's panel URL) from ``?token=``.
When both are configured both must hold.  With neither configured the gateway refuses to
start (:func:`gateway.core.config.inbound_problems`), so "anyone" is never the default.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from collections.abc import Mapping, Sequence

from aiohttp import web

TOKEN_HEADER = "X-Gateway-Token"


def basic_password(header: str) -> str | None:
    """The password of an ``Authorization: Basic`` header, or None."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2]


def given_secret(headers: Mapping[str, str], query: Mapping[str, str], *, query_token: bool) -> str:
    """The secret a request offers: Basic password, then X-Gateway-Token, then ?token=."""
    password = basic_password(headers.get("Authorization", ""))
    if password:
        return password
    if headers.get(TOKEN_HEADER):
        return headers[TOKEN_HEADER]
    return query.get("token", "") if query_token else ""


class WebhookGuard:
    """The allowlist and secret check of one provider's webhooks."""

    def __init__(self, allow_from: Sequence[str], secret: str | None, *, query_token: bool = False) -> None:
        self.networks = [ipaddress.ip_network(n, strict=False) for n in allow_from]
        self.secret = secret or None
        self.query_token = query_token

    @property
    def configured(self) -> bool:
        """True when at least one check is in force."""
        return bool(self.networks) or self.secret is not None

    def address_allowed(self, remote: str | None) -> bool:
        if not self.networks:
            return True
        try:
            address = ipaddress.ip_address((remote or "").split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in net for net in self.networks)

    def secret_matches(self, headers: Mapping[str, str], query: Mapping[str, str]) -> bool:
        if self.secret is None:
            return True
        given = given_secret(headers, query, query_token=self.query_token)
        return hmac.compare_digest(given.encode(), self.secret.encode())

    def allows(self, request: web.Request, fields: Mapping[str, str] | None = None) -> bool:
        """True if the request passes every configured check (False when none is);
        ``fields`` stands in for the query where a form body may carry ``token``."""
        if not self.configured:
            return False
        query = request.query if fields is None else fields
        return self.address_allowed(request.remote) and self.secret_matches(request.headers, query)
