"""The deployment samples under deploy/ stay usable: every role set's config loads, each
has its env file with a known role set, and the systemd unit uses them."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.core.config import load_config
from gateway.serve import ROLES

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
ROLE_SETS = sorted(p.stem for p in (DEPLOY / "config").glob("*.toml"))


def test_there_are_role_sets() -> None:
    assert {"web", "mail", "voice"} <= set(ROLE_SETS)


@pytest.mark.parametrize("name", ROLE_SETS)
def test_each_role_set_config_loads_and_names_known_roles(name: str) -> None:
    config = load_config(DEPLOY / "config" / f"{name}.toml")
    assert config.database_url.startswith("postgresql+asyncpg://")
    env = dict(
        line.split("=", 1)
        for line in (DEPLOY / "config" / f"{name}.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    roles = set(env["GATEWAY_ROLES"].split(","))
    assert roles <= set(ROLES), roles - set(ROLES)
    if "dispatch" in roles:  # a dispatcher sends only channels it has real senders for
        assert config.outbox.channels
    if "http" in roles:
        assert config.http.proxy_protocol
    if "email" in roles:
        assert config.email.smtp.proxy_protocol


def test_the_systemd_unit_reads_the_role_set_files() -> None:
    unit = (DEPLOY / "systemd" / "citizen-gateway@.service").read_text()
    assert "--config /etc/citizen-gateway/%i.toml" in unit and "--only=${GATEWAY_ROLES}" in unit
    assert "EnvironmentFile=/etc/citizen-gateway/%i.env" in unit
    assert "GATEWAY_INSTANCE_NAME=%H:%i" in unit
