"""streams._demo's pure waiting logic: readiness and settling judged from real scrapes."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest
from prometheus_client import generate_latest

from serving._metrics import Metrics, exported_names
from streams import _demo
from streams._demo import (
    FEEDBACK,
    PREDICTIONS,
    READY,
    exit_code,
    metric_total,
    not_ready,
    readiness,
    shortfall,
    status_line,
    unfinished_markdown,
    unsettled,
)
from streams._stack import Stack


def _scrape(m: Metrics) -> str:
    return generate_latest(m.registry).decode()


def test_the_demo_waits_on_metrics_the_processes_export() -> None:
    # A rename in serving._metrics must not leave the demo waiting for a name nobody exports.
    assert {READY, PREDICTIONS, FEEDBACK} <= exported_names()


def test_a_fresh_process_answers_but_is_not_ready() -> None:
    m = Metrics()
    assert metric_total(_scrape(m), READY) == 0.0
    assert readiness(_scrape(m)) == "loading its model"
    m.ready.set(1)
    assert readiness(_scrape(m)) is None


def test_the_workers_readiness_follows_its_pipeline_started_event() -> None:
    # run_worker binds the gauge to FeedbackPipeline.started, read at every scrape.
    m, started = Metrics(), asyncio.Event()
    m.ready.set_function(lambda: float(started.is_set()))
    assert readiness(_scrape(m)) == "loading its model"
    started.set()
    assert readiness(_scrape(m)) is None


def test_the_old_failure_text_is_not_a_scrape() -> None:
    # What the demo used to write when the worker was not up yet.
    failed = "# scrape of http://127.0.0.1:50781/metrics failed: <urlopen error [Errno 111]>\n"
    assert metric_total(failed, FEEDBACK) is None
    assert readiness(failed) == f"endpoint answers without {READY}"
    assert unsettled(None, failed, 0, 160) == ["worker: 0 of 160 feedback events accounted"]


def test_ready_only_when_every_process_is() -> None:
    serve, worker = Metrics(), Metrics()
    serve.ready.set(1)
    scrapes = {"serve": _scrape(serve), "worker": _scrape(worker), "other": None}
    assert not_ready(scrapes) == [
        "worker: loading its model",
        "other: metrics endpoint not answering",
    ]
    worker.ready.set(1)
    assert not_ready({"serve": _scrape(serve), "worker": _scrape(worker)}) == []


def test_an_untouched_labelled_counter_is_absent_not_zero() -> None:
    # HELP and TYPE lines name streamtune_feedback_total before any sample exists: the
    # old test's substring check passed on exactly this.
    text = _scrape(Metrics())
    assert FEEDBACK in text
    assert metric_total(text, FEEDBACK) is None
    assert shortfall(text, FEEDBACK, 3) == 3.0


def test_settled_once_both_processes_count_what_the_demo_saw_and_sent() -> None:
    serve, worker = Metrics(), Metrics()
    serve.predictions.labels(model="default", label="a").inc(100)
    serve.predictions.labels(model="default", label="b").inc(59)
    worker.feedback.labels(outcome="correct").inc(40)
    worker.feedback.labels(outcome="wrong").inc(80)
    assert unsettled(_scrape(serve), _scrape(worker), 160, 150) == [
        "serve: 159 of 160 predictions counted",
        "worker: 120 of 150 feedback events accounted",
    ]
    serve.predictions.labels(model="default", label="b").inc()
    worker.feedback.labels(outcome="wrong").inc(35)  # a replay may count some twice
    assert unsettled(_scrape(serve), _scrape(worker), 160, 150) == []


def test_nothing_to_account_for_needs_no_endpoint() -> None:
    # The stream never started (not ready): the settle phase has nothing to wait for.
    assert unsettled(None, None, 0, 0) == []


@pytest.mark.parametrize(
    ("predicted", "unfinished", "code"),
    [(160, [], 0), (159, [], 1), (160, ["settle: worker: 1 of 2 feedback events accounted"], 1)],
)
def test_exit_code(predicted: int, unfinished: list[str], code: int) -> None:
    assert exit_code(predicted, 160, unfinished) == code


def test_report_section_names_what_did_not_finish() -> None:
    assert unfinished_markdown([]) == ""
    md = unfinished_markdown(["ready: worker: loading its model after 300 s", "scrape: x"])
    assert md.splitlines() == [
        "## Did not finish",
        "",
        "- ready: worker: loading its model after 300 s",
        "- scrape: x",
    ]


def test_status_line_shows_elapsed_budget_and_what_is_pending() -> None:
    line = status_line("settling", ["worker: 3 of 5 feedback events accounted"], 7.6, 120)
    assert line == "settling (8 s of 120 s): worker: 3 of 5 feedback events accounted"


class _FakeStack:
    def __init__(self) -> None:
        self.supervised = 0

    def supervise_once(self) -> list[str]:
        self.supervised += 1
        return []


def test_poll_supervises_while_waiting_and_stops_when_nothing_is_pending(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_demo, "POLL_S", 0.0)
    answers = [["worker: loading"], ["worker: loading"], []]
    shown: list[str] = []
    stack = _FakeStack()
    left = _demo._poll(cast(Stack, stack), float("inf"), lambda: answers.pop(0), shown.append)
    assert left == [] and answers == []
    assert stack.supervised == 2 and shown == ["worker: loading"] * 2


def test_poll_returns_what_is_pending_at_the_deadline() -> None:
    stack = _FakeStack()
    left = _demo._poll(cast(Stack, stack), 0.0, lambda: ["serve: not answering"], print)
    assert left == ["serve: not answering"] and stack.supervised == 0
