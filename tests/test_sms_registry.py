"""The SMS provider registry: every provider the config accepts has one entry, and the
plugin takes its transport and routes from the entry ``sms.provider`` names."""

from __future__ import annotations

import typing

from aiohttp import web

from gateway.channels.sms import create, registry
from gateway.core.config import SmsSection
from gateway.core.runtime import build_context


def test_every_provider_the_config_accepts_is_registered():
    accepted = set(typing.get_args(SmsSection.model_fields["provider"].annotation))
    assert accepted - {"file"} == set(registry.PROVIDERS)


class _Transport:
    async def send(self, sms):
        raise AssertionError("not sent in this test")

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def test_the_plugin_uses_the_entry_the_config_names(make_config, monkeypatch):
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    transport, routes = _Transport(), [web.get("/sms/test/in", hello)]
    chosen = []

    def factory(ctx, inbound):
        chosen.append(inbound)
        return registry.Provider(transport, routes)

    monkeypatch.setitem(registry.PROVIDERS, "generic", factory)
    monkeypatch.setenv("GATEWAY_SMS_WEBHOOK_SECRET", "shared-secret")  # inbound must be authenticated
    plugin = create(build_context(make_config(sms={"provider": "generic", "numbers": ["30001234"]})))
    assert plugin is not None and plugin.transport is transport and list(plugin.routes()) == routes
    assert chosen == [plugin.inbound]
