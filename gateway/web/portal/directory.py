"""``/contact``: managers, deputies and units from ``[[directory]]``, with ``tel:`` and
``mailto:`` links and one vCard 4.0 (RFC 6350) per entry at ``/contact/{n}.vcf``."""

from __future__ import annotations

from aiohttp import web

from gateway.core.config import DirectoryEntry
from gateway.core.lookup import normalize_contact
from gateway.web.portal.pages import ctx_of, render_portal


def tel_uri(phone: str) -> str | None:
    """``tel:+98...`` for a phone number as written in the config (any digits), or None."""
    number = normalize_contact(phone) if phone.strip() else None
    return f"tel:{number}" if number and number.startswith("+") else None


async def contact_page(request: web.Request) -> web.Response:
    """GET /contact: the directory."""
    ctx = ctx_of(request)
    entries = [{"e": e, "n": i + 1, "tel": tel_uri(e.phone)} for i, e in enumerate(ctx.config.directory)]
    return await render_portal(request, "portal_contact.html", {"entries": entries})


def _escape(value: str) -> str:
    """A vCard text value (RFC 6350 section 3.4): backslash, comma, semicolon, newline."""
    return (
        value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;").replace("\r\n", "\\n").replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """Fold a content line at 75 octets without splitting a UTF-8 character (section 3.2)."""
    out, current = [], ""
    for ch in line:
        if len((current + ch).encode("utf-8")) > 75:
            out.append(current)
            current = " " + ch
        else:
            current += ch
    out.append(current)
    return "\r\n".join(out)


def vcard(entry: DirectoryEntry, unit_name: str | None) -> str:
    """One entry as a vCard 4.0."""
    lines = ["BEGIN:VCARD", "VERSION:4.0", f"FN:{_escape(entry.name)}"]
    if entry.role:
        lines.append(f"TITLE:{_escape(entry.role)}")
    if unit_name:
        lines.append(f"ORG:{_escape(unit_name)}")
    tel = tel_uri(entry.phone)
    if tel:
        lines.append(f"TEL;VALUE=uri;TYPE=work:{tel}")
    if entry.email:
        lines.append(f"EMAIL;TYPE=work:{_escape(entry.email)}")
    if entry.address:
        lines.append(f'ADR;TYPE=work;LABEL="{entry.address.replace(chr(34), "")}":;;{_escape(entry.address)};;;;')
    if entry.hours:
        lines.append(f"NOTE:{_escape(entry.hours)}")
    lines.append("END:VCARD")
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"


async def vcard_file(request: web.Request) -> web.Response:
    """GET /contact/{n}.vcf: one entry's vCard."""
    ctx = ctx_of(request)
    try:
        entry = ctx.config.directory[int(request.match_info["n"]) - 1]
    except (ValueError, IndexError):
        raise web.HTTPNotFound() from None
    if int(request.match_info["n"]) < 1:
        raise web.HTTPNotFound()
    units = {u.code: u.name for u in ctx.config.units}
    body = vcard(entry, units.get(entry.unit or "", None))
    return web.Response(
        body=body.encode("utf-8"),
        headers={
            "Content-Type": "text/vcard; charset=utf-8",
            "Content-Disposition": f'attachment; filename="contact-{request.match_info["n"]}.vcf"',
            "X-Content-Type-Options": "nosniff",
        },
    )
