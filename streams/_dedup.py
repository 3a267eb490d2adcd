"""Train each feedback ``event_id`` once, across restarts, in step with the checkpoints.

A Redis key per trained event id (``{prefix}dedup:{model}:{event_id}``, with a TTL) holds
the checkpoint version that contains it. Marks are written only *after* that checkpoint is
durable, so a crash before the checkpoint leaves no mark and the replayed feedback trains
again into the restored model (at least once). Ids trained since the last checkpoint are
held in memory (:attr:`DedupLedger.staged`) and deduplicate within the run.

The commit order for checkpoint ``v`` (see ``streams.worker``)::

    prepare(v)   journal {prefix}dedup-journal:{model}:{v} = the staged ids
    save checkpoint v (temporary path, fsync, rename)
    commit(v)    a mark per journal id, value v
    ack the Kafka records, so the consumer group commits past them

A crash between the checkpoint and the marks is repaired on start by :meth:`recover`,
which re-applies the newest valid checkpoint's journal. A mark whose version is newer than
the checkpoint resumed from (its checkpoint was corrupt and skipped) does not count, so
those events train again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol


class RedisLike(Protocol):
    """The part of :class:`redis.Redis` the ledger uses."""

    def mget(self, keys: Sequence[str]) -> list[Any]:
        """Get several keys (``None`` where missing)."""
        ...

    def smembers(self, name: str) -> Any:
        """Get the members of a set."""
        ...

    def pipeline(self, transaction: bool = True) -> Any:
        """Open a command pipeline."""
        ...


class DedupLedger:
    """Which event ids the current checkpoint lineage has trained.

    Parameters
    ----------
    client
        A Redis client.
    prefix
        Key prefix (``Settings.redis_prefix``).
    model
        Model name; each model has its own ledger.
    ttl_s
        How long a mark lives: duplicate feedback later than this trains again.

    Examples
    --------
    See ``tests/unit/streams/test_dedup.py``.
    """

    def __init__(self, client: RedisLike, prefix: str, model: str, ttl_s: int) -> None:
        if ttl_s < 1:
            raise ValueError(f"ttl_s must be >= 1, got {ttl_s}")
        self.client = client
        self.prefix = prefix
        self.model = model
        self.ttl_s = ttl_s
        #: Marks up to this version are trusted; set by :meth:`recover`.
        self.base_version = -1
        self._written: set[int] = set()
        self._staged: set[str] = set()
        self._prepared: dict[int, list[str]] = {}

    def mark_key(self, event_id: str) -> str:
        """Return the Redis key marking one trained event id."""
        return f"{self.prefix}dedup:{self.model}:{event_id}"

    def journal_key(self, version: int) -> str:
        """Return the key of the set of event ids first trained in checkpoint ``version``."""
        return f"{self.prefix}dedup-journal:{self.model}:{version}"

    @property
    def staged(self) -> frozenset[str]:
        """Ids trained since the last checkpoint (not yet durable)."""
        return frozenset(self._staged)

    def recover(self, base_version: int | None) -> int:
        """Start from checkpoint ``base_version`` (``None``: no checkpoint); returns marks repaired.

        Re-applies that checkpoint's journal, in case the process died between writing the
        checkpoint and its marks. Idempotent.
        """
        self.base_version = -1 if base_version is None else base_version
        self._staged.clear()
        self._prepared.clear()
        if base_version is None:
            return 0
        ids = sorted(_text(m) for m in self.client.smembers(self.journal_key(base_version)))
        self._write_marks(ids, base_version)
        return len(ids)

    def trained(self, event_ids: Iterable[str]) -> set[str]:
        """Return the ``event_ids`` this lineage has already trained (staged or durable)."""
        ids = list(dict.fromkeys(event_ids))
        if not ids:
            return set()
        out = {i for i in ids if i in self._staged}
        rest = [i for i in ids if i not in self._staged]
        if rest:
            values = self.client.mget([self.mark_key(i) for i in rest])
            out.update(i for i, v in zip(rest, values, strict=True) if self._valid(v))
        return out

    def discard_staged(self) -> int:
        """Forget the ids trained since the last checkpoint (their training was undone)."""
        n = len(self._staged)
        self._staged.clear()
        return n

    def stage(self, event_ids: Iterable[str]) -> None:
        """Record ids just trained (in memory until the next checkpoint commits them)."""
        self._staged.update(event_ids)

    def prepare(self, version: int) -> list[str]:
        """Journal the staged ids under ``version``, before its checkpoint is written.

        Replaces any journal left under that version by a run that died before its
        checkpoint. Returns the ids, sorted.
        """
        ids = sorted(self._staged)
        key = self.journal_key(version)
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(key)
        if ids:
            pipe.sadd(key, *ids)
            pipe.expire(key, self.ttl_s)
        pipe.execute()
        self._prepared[version] = ids
        return ids

    def commit(self, version: int) -> int:
        """Mark the ids journalled by :meth:`prepare`, once checkpoint ``version`` is durable."""
        ids = self._prepared.pop(version)
        self._write_marks(ids, version)
        self._written.add(version)
        self._staged.difference_update(ids)
        return len(ids)

    def _write_marks(self, ids: Sequence[str], version: int) -> None:
        if not ids:
            return
        pipe = self.client.pipeline(transaction=False)
        for event_id in ids:
            pipe.set(self.mark_key(event_id), str(version), ex=self.ttl_s)
        pipe.execute()

    def _valid(self, raw: Any) -> bool:
        if raw is None:
            return False
        try:
            version = int(_text(raw))
        except ValueError:
            return False
        return version <= self.base_version or version in self._written


def _text(raw: Any) -> str:
    return raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
