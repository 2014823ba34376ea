"""The core: one case model, tracking codes, intake, routing, outbox.

Convention: the core imports no channel and nothing of ``gateway.web`` (a test walks the
imports).  Intake lives in :mod:`gateway.core.intake` (start at its docstring); the core's
parts are given small typed ports (:mod:`gateway.core.ports`); channels and the web take
what they need from :class:`gateway.core.context.GatewayContext`, the wiring built once by
:mod:`gateway.core.runtime`.  Exceptions: :mod:`gateway.core.errors`.
"""
