"""Tables of the HTTP side: the listener, citizen pages, Open311 and the staff console."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.core.config.base import Section


class WebhookListener(Section):
    """Provider webhooks (``/sms/...``) on a listener of their own, e.g. an address only
    the SMS provider's network reaches; they then leave the public listener."""

    host: str = "127.0.0.1"
    port: int = Field(8081, ge=0, le=65535)


class HttpSection(Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    max_body_bytes: int = Field(1024 * 1024, gt=0)
    webhooks: WebhookListener | None = None  # [http.webhooks]: omitted, webhooks share host:port
    # behind a TCP balancer that sends the PROXY protocol header (HAProxy send-proxy[-v2],
    # nginx stream proxy_protocol on): clients' addresses are read from it; a connection
    # without one is closed.  Only when nothing but the balancer reaches the port.
    proxy_protocol: bool = False


class Open311Section(Section):
    """Open311 GeoReport v2 under /open311/v2/ (README "Citizen pages and Open311")."""

    enabled: bool = True
    jurisdiction_id: str = ""  # empty: any or no jurisdiction_id is accepted
    api_keys_env: str = "GATEWAY_OPEN311_API_KEYS"  # comma-separated keys for POST requests
    contact: str = ""  # shown in discovery
    key_service: str = ""  # where to ask for a key, shown in discovery
    changeset: str = "2026-01-01T00:00:00Z"  # discovery: when the service list last changed


class WebSection(Section):
    """Citizen pages: per-client limits, counted in the shared limiter (all processes)."""

    track_burst: int = Field(10, ge=1)  # lookups a client may make at once
    track_per_minute: float = Field(10, gt=0)  # then this many per minute
    open311_burst: int = Field(30, ge=1)
    open311_per_minute: float = Field(60, gt=0)
    trust_forwarded_for: bool = False  # behind a proxy: use X-Forwarded-For's last hop
    max_clients: int = Field(100_000, ge=100)  # unused since limits live in the database; kept for old files


class StaffSection(Section):
    """Staff console sessions, login throttling and the daily overdue digest."""

    session_hours: float = Field(12, gt=0)  # a console session ends this long after login
    login_max_failures: int = Field(5, ge=1)  # failed logins per client address and per name...
    login_window_minutes: float = Field(15, gt=0)  # ...within this window, then 429
    cookie_secure: Literal["auto", "always", "never"] = "auto"  # auto: when public_base_url is https
    digest_hour: int = Field(7, ge=0, le=23)  # local hour after which the daily digest is queued
    survey_delay_seconds: float = Field(120, ge=0)  # survey invitation after the answer
