"""HTML to PDF with Persian shaping (WeasyPrint) and QR codes (segno)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import segno

from gateway.core.text import to_persian_digits

TEMPLATES = Path(__file__).resolve().parent / "templates"
_env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=jinja2.select_autoescape(["html"]))
_env.filters["fadigits"] = lambda value: to_persian_digits(str(value))


def qr_svg_uri(data: str) -> str:
    """A QR code of ``data`` as an SVG data URI (error correction M: survives a worn print)."""
    return segno.make(data, error="m", micro=False).svg_data_uri(scale=10, border=4)


def render_html(template: str, **values: Any) -> str:
    """One of our print templates, filled in."""
    return _env.get_template(template).render(**values)


def html_to_pdf(html: str) -> bytes:
    """Lay out HTML as PDF (blocking)."""
    import weasyprint  # heavy import: only when something is printed

    pdf: bytes = weasyprint.HTML(string=html, base_url=str(TEMPLATES)).write_pdf()
    return pdf


def render_pdf(template: str, **values: Any) -> bytes:
    """A print template straight to PDF bytes (blocking)."""
    return html_to_pdf(render_html(template, **values))
