"""Where a serving member stands in its consumer group, and when a rebalance is stuck.

kafka-python (3.0.12) runs the JoinGroup/SyncGroup round trip as a task on its network
thread and consumes the result only if ``poll()`` is waiting on it when it completes. A
member whose main thread is elsewhere at that moment (a blocking ``committed()`` or
``commit()`` call queued behind the JoinGroup on the coordinator connection, a model
forward pass) loses the result and joins again; on a broker that holds each JoinGroup for
its rebalance delay (Tansu: 3 s) that can repeat forever, and the partitions of a dead
member are never taken over. Two defences, both driven by :class:`GroupState`:

- no blocking coordinator request is made while a rebalance is in progress, so the main
  thread stays in ``poll()`` until the group is stable again;
- a rebalance that does not finish within a bound is reported as
  :class:`RebalanceStalled`, and the process exits so its supervisor restarts it
  (a fresh member joins in seconds).

The listener methods are called by kafka-python on the consumer's thread; the rest is
pure bookkeeping with an injected clock.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Set
from typing import Any

from kafka import ConsumerRebalanceListener

log = logging.getLogger(__name__)


class RebalanceStalled(RuntimeError):
    """The member has been (re)joining its group for longer than the allowed bound."""


class GroupState(ConsumerRebalanceListener):  # type: ignore[misc]
    """Tracks rebalances of one consumer through its rebalance callbacks.

    A member starts out joining; ``on_partitions_revoked`` (or ``_lost``) starts a
    rebalance and ``on_partitions_assigned`` ends it, even with no partitions (a group with
    more members than partitions leaves some idle, which is not a stall).

    Parameters
    ----------
    clock
        Monotonic clock in seconds.

    Examples
    --------
    >>> now = [0.0]
    >>> g = GroupState(clock=lambda: now[0])
    >>> g.rebalancing
    True
    >>> g.on_partitions_assigned({("t", 0)})
    >>> g.rebalancing, g.generations, sorted(g.assigned)
    (False, 1, [('t', 0)])
    >>> g.on_partitions_revoked({("t", 0)})
    >>> now[0] = 50.0
    >>> g.rebalancing_for()
    50.0
    >>> g.stalled(timeout_s=30.0)
    True
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.rebalancing = True
        self.since = clock()
        self.generations = 0
        self.assigned: frozenset[Any] = frozenset()

    def on_partitions_revoked(self, revoked: Set[Any]) -> None:
        """A rebalance starts: stop blocking coordinator calls until it ends."""
        if not self.rebalancing:
            self.rebalancing = True
            self.since = self.clock()
        log.info("rebalance: revoking %d partitions", len(revoked))

    def on_partitions_lost(self, lost: Set[Any]) -> None:
        """The membership was lost (session expired): a rejoin follows."""
        self.on_partitions_revoked(lost)

    def on_partitions_assigned(self, assigned: Set[Any]) -> None:
        """The rebalance finished; ``assigned`` may be empty."""
        took = self.rebalancing_for()
        self.rebalancing = False
        self.generations += 1
        self.assigned = frozenset(assigned)
        log.info("rebalance done in %.1f s: %d partitions assigned", took, len(assigned))

    def rebalancing_for(self) -> float:
        """Seconds spent in the current rebalance (0 when stable)."""
        return self.clock() - self.since if self.rebalancing else 0.0

    def stalled(self, timeout_s: float) -> bool:
        """Whether the current rebalance has lasted longer than ``timeout_s``."""
        return self.rebalancing_for() > timeout_s

    def check(self, timeout_s: float) -> None:
        """Raise :class:`RebalanceStalled` when :meth:`stalled`."""
        if self.stalled(timeout_s):
            raise RebalanceStalled(
                f"consumer group rebalance unfinished after {self.rebalancing_for():.0f} s "
                f"(bound {timeout_s:g} s)"
            )
