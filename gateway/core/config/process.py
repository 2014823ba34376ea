"""Tables of the process itself: identity and storage, intake, the outbox, logging."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from gateway.core.config.base import Section
from gateway.core.vocab import Kind


class GatewaySection(Section):
    public_base_url: str = "http://127.0.0.1:8080"
    database_url: str = "sqlite+aiosqlite:///var/gateway.db"
    data_dir: str = "var"
    language: Literal["fa", "en"] = "fa"
    timezone: str = "Asia/Tehran"
    secret_key_env: str = "GATEWAY_SECRET_KEY"  # signs survey links and Message-IDs; unset: the database keeps one
    blob_store: Literal["auto", "folder", "database"] = "auto"  # auto: database on PostgreSQL, else data_dir/files
    instance_name: str = ""  # lease holder and claim id; empty: host name + role set (gateway.core.leases)
    lease_seconds: float = Field(3.0, ge=0.5, le=300)  # a dead holder's leases expire this long after its last beat

    @field_validator("public_base_url")
    @classmethod
    def _no_trailing_slash(cls, v: str) -> str:
        return v.rstrip("/")


class IntakeSection(Section):
    batch_max: int = Field(64, ge=1)
    max_text_chars: int = Field(20000, ge=100)
    kind_keywords: dict[Kind, list[str]] = {}  # extra words per kind, besides the built-in ones


class OutboxSection(Section):
    max_attempts: int = Field(8, ge=1)
    base_delay_seconds: float = Field(5, gt=0)
    max_delay_seconds: float = Field(3600, gt=0)
    poll_seconds: float = Field(1.0, gt=0)
    batch: int = Field(100, ge=1)  # rows one pass claims (and marks) in one transaction each
    concurrency: int = Field(20, ge=1)  # of those, sends in flight at once
    lease_seconds: float = Field(10, gt=0)  # a claim not renewed by its sender's heartbeat this long is taken over
    channels: list[str] = []  # channels this process's dispatcher sends (empty: all); see README
    report_wait_seconds: float = Field(300, ge=0)  # providers without idempotency keys: wait this long
    # for a delivery report before resending a row that may have gone out (Kannel, AMI)
    send_timeout_seconds: float = Field(60, gt=0)


class LimitsSection(Section):
    """Where limit counters live (gateway.core.limits): the database, or Redis."""

    backend: Literal["database", "redis"] = "database"
    redis_url_env: str = "GATEWAY_REDIS_URL"  # e.g. redis://127.0.0.1:6379/0 (may hold a password)


class LoggingSection(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "text"
