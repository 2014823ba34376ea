"""Routing and classification: pure functions over the config's ordered rules.

A violation report (Article 9-1) always goes to the oversight unit, whatever the rules say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from gateway.core.config import RoutingRule
from gateway.core.messages import Channel, Kind
from gateway.core.text import fold

# Words that name a kind, in folded form; Persian first, English equivalents after.
KIND_WORDS: dict[Kind, tuple[str, ...]] = {
    Kind.VIOLATION_REPORT: ("تخلف", "گزارش تخلف", "رشوه", "violation", "bribe", "corruption"),
    Kind.COMPLAINT: ("شکایت", "شکایات", "complaint", "complaints", "complain"),
    Kind.SUGGESTION: ("پیشنهاد", "پیشنهادات", "suggestion", "suggestions", "suggest", "idea"),
    Kind.CRITICISM: ("انتقاد", "criticism", "critique"),
    Kind.REQUEST: ("درخواست", "request"),
}


@dataclass(frozen=True, slots=True)
class RouteInput:
    """What routing looks at."""

    kind: Kind
    channel: Channel
    recipient: str | None = None
    service_code: str | None = None
    text: str = ""


def kind_from_word(word: str, extra: Mapping[Kind, Sequence[str]] | None = None) -> Kind | None:
    """The kind a single (folded) word names, if any."""
    w = fold(word)
    for kind, words in _vocabulary(extra):
        if w in words:
            return kind
    return None


def classify(text: str, hint: Kind | None = None, extra: Mapping[Kind, Sequence[str]] | None = None) -> Kind:
    """Channel hint first, else the earliest kind word in the text, else ``request``."""
    if hint is not None:
        return hint
    folded = f" {fold(text)[:2000]} "
    best: tuple[int, Kind] | None = None
    for kind, words in _vocabulary(extra):
        for w in words:
            pos = _word_at(folded, w)
            if pos >= 0 and (best is None or pos < best[0]):
                best = (pos, kind)
    return best[1] if best else Kind.REQUEST


def _word_at(haystack: str, word: str) -> int:
    """Position of ``word`` as a whole word (Persian has no \\b for ZWNJ-joined forms)."""
    start = 0
    while (i := haystack.find(word, start)) >= 0:
        before, after = haystack[i - 1], haystack[i + len(word) : i + len(word) + 1]
        if not before.isalnum() and not (after.isalnum() and not _persian_suffix(haystack, i + len(word))):
            return i
        start = i + 1
    return -1


def _persian_suffix(haystack: str, end: int) -> bool:
    """Allow common Persian plural/object suffixes such as «ها» and «ی» after a keyword."""
    return haystack[end : end + 2] in ("ها", "ات") or haystack[end : end + 1] == "ی"


def _vocabulary(extra: Mapping[Kind, Sequence[str]] | None) -> Iterable[tuple[Kind, tuple[str, ...]]]:
    for kind, words in KIND_WORDS.items():
        more = tuple(fold(w) for w in (extra or {}).get(kind, ()))
        yield kind, words + more


def route(item: RouteInput, rules: Sequence[RoutingRule], default_unit: str, oversight_unit: str) -> str:
    """Return the unit code for a new case: first matching rule, else the default."""
    if item.kind is Kind.VIOLATION_REPORT:
        return oversight_unit
    folded = f" {fold(item.text)} " if any(rule.keywords for rule in rules) else ""
    for rule in rules:
        if _matches(rule, item, folded):
            return rule.unit
    return default_unit


def _matches(rule: RoutingRule, item: RouteInput, folded_text: str) -> bool:
    if rule.kind is not None and rule.kind != item.kind:
        return False
    if rule.channel is not None and rule.channel != item.channel:
        return False
    if rule.recipient is not None and (item.recipient or "").casefold() != rule.recipient.casefold():
        return False
    if rule.service is not None and rule.service != item.service_code:
        return False
    if rule.keywords and not any(_word_at(folded_text, fold(k)) >= 0 for k in rule.keywords):
        return False
    return True
