"""S4: the memory-only broker restarts on the same port and forgets everything.

Serving must notice (by its lost committed offsets, or first by the texts topic's new
id), report the loss (an ERROR line and a ``broker_data_lost`` dead letter), re-create
the topics and exit non-zero, after its group has rejoined; its supervisor (the stack's
``supervise_once``, as ``streamtune up`` runs it) restarts it, and every text produced
after the restart is predicted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from schemas import Settings
from streams import EmbeddedBroker, make_producer
from streams._stack import Stack
from tests.faults.conftest import clear_redis, isolated_settings
from tests.faults.ledger import Ledger, Report, Watch, text_items

pytestmark = [pytest.mark.integration, pytest.mark.faults]


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A broker this test may stop and start again on the same port."""
    broker = EmbeddedBroker(log_dir=str(tmp_path))
    broker.start()
    yield broker
    broker.stop()


def test_broker_restart_loses_nothing_after_it_and_reports_the_loss(
    own_broker: EmbeddedBroker,
    redis_url: str,
    tmp_path: Path,
    fault_results: Callable[[Report], None],
) -> None:
    settings: Settings = isolated_settings(own_broker.bootstrap, redis_url, tmp_path)
    stack = Stack(settings, external_broker=True, log_dir=str(tmp_path))
    stack.settings = settings
    child = stack.add("serve", ["serve"], extra_env=settings.to_env())
    try:
        _scenario(stack, child, own_broker, settings, fault_results)
    finally:
        stack.stop()
        clear_redis(redis_url, settings.redis_prefix)


def _scenario(
    stack: Stack,
    child: Any,
    own_broker: EmbeddedBroker,
    settings: Settings,
    fault_results: Callable[[Report], None],
) -> None:
    restarted: list[float] = []

    def supervise() -> None:
        if stack.supervise_once():
            restarted.append(time.time())

    ledger = Ledger("S4 broker restart (data lost)")
    watch = Watch(settings, ledger)
    producer = make_producer(settings)
    # Enough before the restart that the new, short log sits below the old offsets.
    assert watch.send(producer, text_items("pre", 150)) == 150
    assert watch.all_predicted(120), "baseline"
    producer.close()
    watch.close()

    own_broker.stop()
    own_broker.start()
    back = time.time()
    ledger.fault("broker restart", back)
    producer = make_producer(settings)
    try:
        post = text_items("post", 60)
        assert watch.send(producer, post) == 60, "producers reconnect to the new broker"
        # Serving may already have exited on the loss: only its restart re-creates the
        # predictions topic, so the supervisor runs while the readers wait for it.
        watch.reopen(tick=supervise)
        ok = watch.until(
            lambda led: (
                not led.unpredicted()
                and any(d.reason.startswith("broker_data_lost") for d in led.dead)
            ),
            120,
            supervise,
        )
    finally:
        producer.close()
        watch.close()
    log = Path(child.log_path).read_text(errors="replace")
    assert ok, f"unpredicted after restart: {len(ledger.unpredicted())}; log:\n{log[-3000:]}"
    # Noticed by the lost committed offsets or, first, by the texts topic's new id.
    assert "broker data lost" in log or "was re-created" in log, log[-3000:]
    assert "exiting so a supervisor restarts me" in log
    assert len(restarted) == 1, f"one supervised restart, not {restarted}"
    # The loss notices are not inputs: drop them before reconciling the texts.
    notices = [d for d in ledger.dead if d.reason.startswith("broker_data_lost")]
    ledger.dead = [d for d in ledger.dead if d not in notices]
    report = ledger.reconcile()
    report.extra["loss_notices"] = len(notices)
    report.extra["supervised_restarts"] = len(restarted)
    fault_results(report)
