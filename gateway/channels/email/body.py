"""Body text helpers: HTML to readable text, and trimming quotes and signatures from replies.

Trimming applies to follow-ups only (a first message keeps everything, it may be a forward
the citizen wants read).  The markers are a table so new mail clients are one line each.
"""

from __future__ import annotations

import re

from inscriptis import get_text

# A line that starts the quoted original in a reply; everything from it on is dropped.
QUOTE_HEADERS: tuple[re.Pattern[str], ...] = (
    re.compile(r"^\s*On .{4,200} wrote:\s*$"),  # Gmail, Thunderbird (en)
    re.compile(r"^\s*(در تاریخ|در).{4,200}نوشت[:：]?\s*$"),  # Gmail (fa)
    re.compile(r"^\s*-{3,}\s*Original Message\s*-{3,}\s*$", re.I),  # Outlook (en)
    re.compile(r"^\s*-{3,}\s*پیام اصلی\s*-{3,}\s*$"),  # Outlook (fa)
    re.compile(r"^\s*_{20,}\s*$"),  # Outlook's rule + From:
    re.compile(r"^\s*(From|از|فرستنده)\s*:\s.+$"),  # Outlook header block
    re.compile(r"^\s*Le .{4,200} a écrit\s*:\s*$"),
)
SIGNATURE_DELIMITER = re.compile(r"^-- ?$")  # RFC 3676 section 4.3
MOBILE_SIGNATURES = re.compile(r"^\s*(Sent from my .{2,40}|ارسال شده از .{2,40})\s*$", re.I)


def html_to_text(html: str) -> str:
    """Readable text from an HTML body (lists, paragraphs and line breaks kept)."""
    try:
        text = get_text(html)
    except Exception:  # noqa: BLE001 - a broken document still has its words
        text = re.sub(r"<[^>]+>", " ", html)
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def trim_reply(text: str) -> str:
    """Drop the quoted original, '>' lines and the signature from a reply's text.

    Returns the text unchanged if trimming would leave nothing (a reply that is all quote
    is better stored whole than empty).
    """
    kept: list[str] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if SIGNATURE_DELIMITER.match(line) or MOBILE_SIGNATURES.match(line):
            break
        if _starts_quote(lines, i):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    trimmed = "\n".join(kept).strip()
    return trimmed or text.strip()


def _starts_quote(lines: list[str], i: int) -> bool:
    line = lines[i]
    for pattern in QUOTE_HEADERS:
        if pattern.match(line):
            if pattern.pattern.startswith(r"^\s*(From"):
                # Outlook's block needs a Sent:/Date: line close below, not any "From:" text
                near = "\n".join(lines[i + 1 : i + 4])
                return bool(re.search(r"^\s*(Sent|Date|تاریخ|ارسال)\s*:", near, re.M))
            return True
    return False
