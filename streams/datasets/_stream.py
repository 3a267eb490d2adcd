"""A labelled text stream: the events in order, plus what a benchmark needs to know about them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple


class LabelledText(NamedTuple):
    """One event of a stream.

    ``t`` is the source time in epoch milliseconds (for tweets, the time the tweet was
    posted), not a replay time: streams that sample or remap keep the source time, so it
    is not monotonic there.
    """

    event_id: str
    text: str
    label: str
    t: int


@dataclass(frozen=True)
class TextStream:
    """A finite, materialised stream of labelled texts and its metadata.

    Parameters
    ----------
    name
        Stream name, e.g. ``"natural"``.
    events
        The events, in replay order.
    labels
        Every label that occurs, in first-seen order.
    change_points
        Indices of the first event of each new concept (empty for ``natural``).
    drift_width
        Events over which a change is spread (0 for abrupt changes); a gradual change at
        ``c`` is complete at ``c + drift_width``.
    descriptions
        Human-readable text per label, usable to initialise a zero-shot model.
    params
        The arguments the stream was built with, for the report.

    Examples
    --------
    >>> s = TextStream("toy", (LabelledText("a", "flu shot", "x", 0),), ("x",))
    >>> len(s), [e.label for e in s], s.change_points
    (1, ['x'], ())
    """

    name: str
    events: tuple[LabelledText, ...]
    labels: tuple[str, ...]
    change_points: tuple[int, ...] = ()
    drift_width: int = 0
    descriptions: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, object] = field(default_factory=dict)

    def __iter__(self) -> Iterator[LabelledText]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)


def labels_in_order(events: tuple[LabelledText, ...]) -> tuple[str, ...]:
    """Labels in the order they first occur.

    Examples
    --------
    >>> labels_in_order((LabelledText("1", "a", "y", 0), LabelledText("2", "b", "x", 0),
    ...                  LabelledText("3", "c", "y", 0)))
    ('y', 'x')
    """
    return tuple(dict.fromkeys(e.label for e in events))
