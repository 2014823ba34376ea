"""Moved to :mod:`gateway.core.intake.replies`; this name stays for older imports."""

from gateway.core.vocab import SURVEY_QUESTIONS

__all__ = ["SURVEY_QUESTIONS"]
