"""The fuzzing harness itself: a crash is found, shrunk and reported; an allowed
exception is not a crash; a failure only the log shows is a crash too; every registered
target runs a few inputs (the real runs are `python -m fuzz`, in CI 20 s per target)."""

from __future__ import annotations

import logging

import pytest
from hypothesis import strategies as st

from fuzz.harness import FAILURES, TARGETS, Target, load_targets, run_target, select


def crash_on_big(n: int) -> None:
    if n > 1000:
        raise ValueError("too big")


def test_a_crash_is_reported_with_the_shrunk_input() -> None:
    outcome = run_target(Target("t.crash", st.integers(), crash_on_big), seconds=30)
    assert outcome.crash is not None
    assert "ValueError: too big" in outcome.crash and "1001" in outcome.crash  # shrunk to the edge


def test_an_allowed_exception_is_not_a_crash() -> None:
    outcome = run_target(Target("t.allowed", st.integers(), crash_on_big, allowed=(ValueError,)), seconds=0.5)
    assert outcome.crash is None and outcome.runs > 0


def test_an_error_in_the_log_is_a_crash() -> None:
    def logs_an_error(n: int) -> None:
        if n > 1000:
            logging.getLogger("gateway.core.intake").error("intake failed for one sms message")

    root = logging.getLogger()
    root.addHandler(FAILURES)
    try:
        outcome = run_target(Target("t.log", st.integers(), logs_an_error), seconds=30)
    finally:
        root.removeHandler(FAILURES)
    assert outcome.crash is not None and "intake failed" in outcome.crash


def test_targets_are_found_and_selected_by_prefix() -> None:
    targets = load_targets()
    assert {
        "sms.kannel.mo",
        "sms.kannel.dlr",
        "sms.generic.inbound",
        "sms.generic.status",
        "sms.kavenegar.forward",
    } <= set(targets)
    assert all(t.name.startswith("sms.kannel") for t in select(targets, ["sms.kannel"]))


@pytest.mark.parametrize("name", sorted(n for n, t in load_targets().items() if not t.needs_app))
def test_each_parser_target_runs_clean_briefly(name: str) -> None:
    outcome = run_target(TARGETS[name], seconds=0.2)
    assert outcome.crash is None, outcome.crash
    assert outcome.runs > 0
