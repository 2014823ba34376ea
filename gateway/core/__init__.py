"""The core: one case model, tracking codes, intake, routing, outbox.

Convention: the core imports no channel and nothing of ``gateway.web``; channels reach it
through :class:`gateway.core.context.GatewayContext`.
"""
