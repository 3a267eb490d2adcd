"""Streams with known drift, built from the corpora: ``natural``, ``abrupt``, ``gradual``, ``bbc``.

``natural`` replays the health tweets in posting order, with whatever drift history holds
(outlets start, stop and change topics). ``abrupt`` and ``gradual`` are stationary apart from
the designed change: each event's label is drawn uniformly from the concept's labels and its
text is the next unused record of that label in a seeded shuffle, so the pre-change level is
flat and recovery after the change is measurable. Every builder is pure given its seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from streams.datasets._bbc import TOPIC_DESCRIPTIONS, load_bbc_news
from streams.datasets._stream import LabelledText, TextStream, labels_in_order
from streams.datasets._tweets import DEMO_OUTLETS, OUTLET_DESCRIPTIONS, Tweet, load_healthtweets

Corpus = Literal["healthtweets", "bbc"]
ChangeKind = Literal["remap", "new_label"]


@dataclass(frozen=True)
class Concept:
    """Which source labels occur, and the label each is published under."""

    sources: tuple[str, ...]
    relabel: Mapping[str, str]


def tweet_events(tweets: Sequence[Tweet]) -> list[LabelledText]:
    """Convert tweets to stream events (event id ``ht-<tweet id>``, label = outlet)."""
    return [LabelledText(f"ht-{t.id}", t.text, t.outlet, t.time_ms) for t in tweets]


def natural(
    *,
    outlets: Sequence[str] | None = None,
    limit: int | None = None,
    start_ms: int | None = None,
    tweets: Sequence[Tweet] | None = None,
) -> TextStream:
    """Replay the health tweets in posting order.

    Parameters
    ----------
    outlets
        Keep only these outlets (all 16 by default).
    limit
        Keep the first ``limit`` events.
    start_ms
        Skip tweets posted before this epoch-ms time.
    tweets
        The corpus (the vendored one by default); tests pass a small one.

    Examples
    --------
    >>> from streams.datasets._tweets import Tweet
    >>> corpus = [Tweet(2, 20, "b", "flu"), Tweet(1, 10, "a", "gym"), Tweet(3, 30, "a", "diet")]
    >>> s = natural(outlets=["a"], tweets=corpus)
    >>> [(e.event_id, e.label) for e in s], s.change_points
    ([('ht-1', 'a'), ('ht-3', 'a')], ())
    """
    source = load_healthtweets() if tweets is None else tweets
    chosen = set(outlets) if outlets is not None else None
    if chosen is not None:
        _check_known(chosen, {t.outlet for t in source})
    kept = sorted(
        (
            t
            for t in source
            if (chosen is None or t.outlet in chosen)
            and (start_ms is None or t.time_ms >= start_ms)
        ),
        key=lambda t: (t.time_ms, t.id),
    )
    events = tuple(tweet_events(kept[:limit]))
    labels = labels_in_order(events)
    return TextStream(
        "natural",
        events,
        labels,
        descriptions={k: OUTLET_DESCRIPTIONS.get(k, k) for k in labels},
        params={
            "outlets": sorted(chosen) if chosen else None,
            "limit": limit,
            "start_ms": start_ms,
        },
    )


def abrupt(
    *,
    corpus: Corpus = "healthtweets",
    labels: Sequence[str] | None = None,
    n_events: int = 3000,
    change_at: int | None = None,
    kind: ChangeKind = "remap",
    new: Sequence[str] | None = None,
    seed: int = 0,
    pool: Sequence[LabelledText] | None = None,
) -> TextStream:
    """Build a stationary stream with one abrupt concept change at ``change_at``.

    ``kind="remap"``: after the change every label is published under the next label of
    ``labels`` in sorted order (a cyclic shift, so no label keeps its meaning): real concept
    drift, the same texts now mean something else. ``kind="new_label"``: the labels in
    ``new`` (default: the last of ``labels``) occur only after the change.

    Parameters
    ----------
    corpus
        ``"healthtweets"`` (labels are outlets, default :data:`DEMO_OUTLETS`) or ``"bbc"``
        (labels are topics, default all five).
    labels
        Source labels to draw from.
    n_events, seed
        Length and sampling seed.
    change_at
        Index of the first event of the new concept (default: ``n_events // 2``).
    kind
        ``"remap"`` or ``"new_label"``.
    new
        For ``"new_label"``: the labels that appear only after the change.
    pool
        Records to draw from instead of ``corpus`` (tests pass a small one).

    Examples
    --------
    >>> toy = [LabelledText(f"{c}{i}", f"text {c}", c, 0) for c in "ab" for i in range(10)]
    >>> s = abrupt(pool=toy, n_events=8, change_at=4, seed=1)
    >>> s.change_points, all(e.label == e.text[-1] for e in s.events[:4])
    ((4,), True)
    >>> all(e.label != e.text[-1] for e in s.events[4:])
    True
    """
    before, after, chosen = _concepts(corpus, labels, kind, new, pool)
    at = n_events // 2 if change_at is None else change_at
    if not 0 < at < n_events:
        raise ValueError(f"change_at must lie in (0, {n_events}); got {at}")
    events = _sample(
        _pools(corpus, chosen, pool), lambda i, _rng: after if i >= at else before, n_events, seed
    )
    return _stream(
        "abrupt",
        corpus,
        events,
        (at,),
        0,
        {"labels": chosen, "n_events": n_events, "change_at": at, "kind": kind, "seed": seed},
    )


def gradual(
    *,
    corpus: Corpus = "healthtweets",
    labels: Sequence[str] | None = None,
    n_events: int = 3000,
    start: int | None = None,
    width: int | None = None,
    kind: ChangeKind = "remap",
    new: Sequence[str] | None = None,
    seed: int = 0,
    pool: Sequence[LabelledText] | None = None,
) -> TextStream:
    """Build a stream like :func:`abrupt`, but concept B replaces A gradually over ``width`` events.

    Event ``i`` follows concept B with probability ``clip((i - start) / width, 0, 1)``
    (linear ramp). Defaults: ``start = n_events // 3``, ``width = n_events // 3``. The change
    point reported is ``start``, and ``drift_width`` is ``width``.

    Examples
    --------
    >>> toy = [LabelledText(f"{c}{i}", f"text {c}", c, 0) for c in "ab" for i in range(50)]
    >>> s = gradual(pool=toy, n_events=60, start=20, width=20, seed=3)
    >>> s.change_points, s.drift_width
    ((20,), 20)
    >>> [e.label == e.text[-1] for e in s.events[:20]].count(False), \
        [e.label == e.text[-1] for e in s.events[40:]].count(True)
    (0, 0)
    """
    before, after, chosen = _concepts(corpus, labels, kind, new, pool)
    begin = n_events // 3 if start is None else start
    span = max(n_events // 3, 1) if width is None else width
    if begin < 0 or span < 1 or begin + span > n_events:
        raise ValueError(f"need 0 <= start, 1 <= width, start + width <= {n_events}")

    def concept(i: int, rng: random.Random) -> Concept:
        p_after = min(max((i - begin) / span, 0.0), 1.0)
        return after if rng.random() < p_after else before

    events = _sample(_pools(corpus, chosen, pool), concept, n_events, seed)
    params = {"labels": chosen, "n_events": n_events, "start": begin, "width": span}
    return _stream(
        "gradual", corpus, events, (begin,), span, {**params, "kind": kind, "seed": seed}
    )


def bbc(
    *, n_events: int | None = None, seed: int = 0, pool: Sequence[LabelledText] | None = None
) -> TextStream:
    """Replay BBC News articles in a seeded random order (stationary; no drift).

    Texts are cut at :data:`MAX_TEXT_BYTES` UTF-8 bytes so each fits a ``TextEvent``.
    """
    records = list(_corpus_records("bbc") if pool is None else pool)
    random.Random(seed).shuffle(records)
    events = tuple(records[:n_events])
    return _stream("bbc", "bbc", events, (), 0, {"n_events": n_events, "seed": seed})


#: Longest text, in UTF-8 bytes, a BBC event carries; three articles exceed the wire's 16 KiB.
MAX_TEXT_BYTES = 16_000


def _truncate(text: str, max_bytes: int) -> str:
    return text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def _corpus_records(corpus: Corpus) -> list[LabelledText]:
    if corpus == "bbc":
        return [
            LabelledText(f"bbc-{a.id}", _truncate(a.text, MAX_TEXT_BYTES), a.topic, 0)
            for a in load_bbc_news()
        ]
    return tweet_events(load_healthtweets())


def _check_known(wanted: set[str], known: set[str]) -> None:
    unknown = wanted - known
    if unknown:
        raise ValueError(f"unknown labels {sorted(unknown)}; valid: {sorted(known)}")


def _concepts(
    corpus: Corpus,
    labels: Sequence[str] | None,
    kind: ChangeKind,
    new: Sequence[str] | None,
    pool: Sequence[LabelledText] | None,
) -> tuple[Concept, Concept, list[str]]:
    if labels is None:
        if pool is not None:
            labels = sorted({e.label for e in pool})
        else:
            labels = DEMO_OUTLETS if corpus == "healthtweets" else sorted(TOPIC_DESCRIPTIONS)
    chosen = sorted(set(labels))
    if len(chosen) < 2:
        raise ValueError("a concept change needs at least two labels")
    identity = {s: s for s in chosen}
    if kind == "remap":
        shifted = {s: chosen[(i + 1) % len(chosen)] for i, s in enumerate(chosen)}
        return Concept(tuple(chosen), identity), Concept(tuple(chosen), shifted), chosen
    if kind == "new_label":
        fresh = set(new) if new is not None else {chosen[-1]}
        _check_known(fresh, set(chosen))
        old = tuple(s for s in chosen if s not in fresh)
        if not old:
            raise ValueError("new_label needs at least one label present before the change")
        return Concept(old, identity), Concept(tuple(chosen), identity), chosen
    raise ValueError(f"unknown change kind {kind!r}; valid: 'remap', 'new_label'")


def _pools(
    corpus: Corpus, chosen: Sequence[str], pool: Sequence[LabelledText] | None
) -> dict[str, list[LabelledText]]:
    records = _corpus_records(corpus) if pool is None else pool
    _check_known(set(chosen), {e.label for e in records})
    by_label: dict[str, list[LabelledText]] = {s: [] for s in chosen}
    for e in records:
        if e.label in by_label:
            by_label[e.label].append(e)
    return by_label


def _sample(
    pools: dict[str, list[LabelledText]],
    concept_at: Callable[[int, random.Random], Concept],
    n_events: int,
    seed: int,
) -> tuple[LabelledText, ...]:
    rng = random.Random(seed)
    # Shuffle each label's records once; each record is used at most once, so ids are unique.
    queues = {s: rng.sample(records, len(records)) for s, records in sorted(pools.items())}
    events = []
    for i in range(n_events):
        concept = concept_at(i, rng)
        source = rng.choice(concept.sources)
        if not queues[source]:
            raise ValueError(f"label {source!r} ran out of records at event {i}; lower n_events")
        record = queues[source].pop()
        events.append(record._replace(label=concept.relabel[source]))
    return tuple(events)


def _stream(
    name: str,
    corpus: Corpus,
    events: tuple[LabelledText, ...],
    change_points: tuple[int, ...],
    width: int,
    params: Mapping[str, object],
) -> TextStream:
    labels = labels_in_order(events)
    known = OUTLET_DESCRIPTIONS if corpus == "healthtweets" else TOPIC_DESCRIPTIONS
    return TextStream(
        name,
        events,
        labels,
        change_points,
        width,
        {k: known.get(k, k) for k in labels},
        {"corpus": corpus, **params},
    )
