"""Secrets, signed tokens and token hashing.

Signed tokens (survey links, tracking links, our Message-IDs) are ``payload.signature``
with an HMAC-SHA256 under the gateway's secret key, URL-safe base64, constant-time checked.
The key comes from the environment variable ``gateway.secret_key_env`` names, else from the
database (made once, shared by every process: ``StateStore.put_once``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

SECRET_STATE_KEY = "gateway:signing-key"  # where the shared key lives (channel_state)


def env_secret_key(env_name: str) -> bytes | None:
    """The signing key from the named environment variable, if it is set."""
    value = os.environ.get(env_name) if env_name else None
    return value.encode("utf-8") if value else None


def new_secret_key(data_dir: Path) -> str:
    """A key for the database to keep: an older install's ``secret.key`` if there is one
    (its links keep working), else a fresh random one."""
    path = data_dir / "secret.key"
    if path.exists():
        return path.read_text().strip()
    return secrets.token_urlsafe(48)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """HMAC signer for short tokens, with a purpose so tokens cannot be swapped.

    The key may come later (:meth:`use`): the shared one is read from the database once
    the process has connected to it."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or b""

    @property
    def ready(self) -> bool:
        return bool(self._key)

    def use(self, key: bytes) -> None:
        """Sign with ``key`` from now on."""
        self._key = key

    def mac(self, purpose: str, data: str, length: int = 16) -> str:
        if not self._key:
            raise RuntimeError("the signing key is not loaded yet")
        digest = hmac.new(self._key, f"{purpose}\x00{data}".encode(), hashlib.sha256).digest()
        return _b64(digest[:length])

    def sign(self, purpose: str, payload: dict[str, Any], ttl_seconds: int | None = None) -> str:
        """A token carrying ``payload`` (and an expiry when ``ttl_seconds`` is given)."""
        body = dict(payload)
        if ttl_seconds is not None:
            body["exp"] = int(time.time()) + ttl_seconds
        data = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
        return f"{data}.{self.mac(purpose, data)}"

    def verify(self, purpose: str, token: str) -> dict[str, Any] | None:
        """The payload if the token is authentic and unexpired, else None."""
        data, _, sig = token.partition(".")
        # bytes: compare_digest raises TypeError for a non-ASCII str (a 500 on /s/{token})
        if not data or not sig or not hmac.compare_digest(sig.encode(), self.mac(purpose, data).encode()):
            return None
        try:
            body = json.loads(_unb64(data))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(body, dict):
            return None
        if "exp" in body and int(body["exp"]) < time.time():
            return None
        return body


def new_token(nbytes: int = 32) -> str:
    """A random bearer token."""
    return secrets.token_urlsafe(nbytes)


def hash_token(token: str) -> str:
    """The stored form of a bearer token (SHA-256 is right for high-entropy tokens)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
