"""Printed matter for the office: survey posters with a QR code, the paper survey form and
the monthly survey report, as A4 PDF.

HTML templates (``templates/``) are laid out by WeasyPrint, which shapes Persian through
Pango and HarfBuzz and sets right-to-left text properly; fonts are Debian's (Noto Sans
Arabic from ``fonts-noto-core``, then Nazli from ``fonts-farsiweb``, then DejaVu Sans).
QR codes are made by segno as SVG.  Rendering blocks: call it in a thread from async code.
"""
