"""Signed tokens of the portal: the form token (one per form shown) and the proof token
that lets a citizen who proved their case add to it.

The form token carries a random nonce and the time it was issued, signed with the
gateway's key.  The nonce is the submission's ``external_id`` in the intake dedupe
ledger, so sending the same form twice (a double click, a reload, a replay) gives the
same case instead of a second one.  A token whose signature is wrong is "forged"; one
older than ``portal.form_token_hours`` is "expired" (told apart, so the message is right).
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from gateway.core.security import Signer

FORM_PURPOSE = "portal-form"
PROOF_PURPOSE = "portal-proof"
PROOF_SECONDS = 2 * 3600  # a proved visitor has two hours to add information or appeal


@dataclass(frozen=True, slots=True)
class FormToken:
    """A checked form token: ``state`` is ok, forged or expired; ``nonce`` when not forged."""

    state: str
    nonce: str = ""


def issue_form_token(signer: Signer, now: float | None = None) -> str:
    """A new form token (a fresh nonce, the issue time)."""
    body = {"n": secrets.token_urlsafe(12), "t": int(now if now is not None else time.time())}
    data = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{data}.{signer.mac(FORM_PURPOSE, data)}"


def check_form_token(signer: Signer, token: str, max_age_seconds: float, now: float | None = None) -> FormToken:
    """Check a form token's signature and age."""
    data, _, sig = (token or "")[:400].partition(".")
    if not data or not sig or not hmac.compare_digest(sig.encode(), signer.mac(FORM_PURPOSE, data).encode()):
        return FormToken("forged")
    try:
        body = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
        nonce, issued = str(body["n"]), int(body["t"])
    except (ValueError, KeyError, TypeError):
        return FormToken("forged")
    current = now if now is not None else time.time()
    if current - issued > max_age_seconds or issued - current > 300:
        return FormToken("expired", nonce)
    return FormToken("ok", nonce)


def issue_proof(signer: Signer, code: str) -> str:
    """A short-lived token saying "this visitor proved case ``code``"."""
    return signer.sign(PROOF_PURPOSE, {"c": code}, ttl_seconds=PROOF_SECONDS)


def proved_code(signer: Signer, token: str) -> str | None:
    """The case code a proof token is for, or None (forged, expired, missing)."""
    body = signer.verify(PROOF_PURPOSE, (token or "")[:400])
    code = body.get("c") if body else None
    return code if isinstance(code, str) else None
