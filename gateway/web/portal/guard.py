"""Abuse limits of the portal, on the shared database-held limiter (``ctx.limiter``,
:mod:`gateway.core.limits`), so they hold across every gateway process.

Two sliding windows per submission: one per client address (``per_ip_per_hour``), one per
contact (``per_contact_per_day``).  The limiter stores keys only as hashes, so no address
or number is kept in its table.  A submission refused by the contact limit gives its
address slot back: nothing is counted for what was not stored.
"""

from __future__ import annotations

from gateway.core.context import GatewayContext

HOUR, DAY = 3600, 86400


async def allowed(ctx: GatewayContext, client: str, contact: str | None) -> str | None:
    """None if this submission may go on, else the error key (``err_rate_ip`` or
    ``err_rate_contact``)."""
    cfg = ctx.config.portal
    address = f"portal-ip:{client}"
    if not (await ctx.limiter.hit(address, cfg.per_ip_per_hour, HOUR)).allowed:
        return "err_rate_ip"
    if (
        contact
        and not (await ctx.limiter.hit(f"portal-contact:{contact.casefold()}", cfg.per_contact_per_day, DAY)).allowed
    ):
        await ctx.limiter.undo(address, HOUR)
        return "err_rate_contact"
    return None
