"""Streams by name, for the command line and the benchmark."""

from __future__ import annotations

from collections.abc import Callable

from streams.datasets._drift import abrupt, bbc, gradual, natural
from streams.datasets._stream import TextStream

#: Stream builders by name; each takes keyword arguments only.
STREAMS: dict[str, Callable[..., TextStream]] = {
    "natural": natural,
    "abrupt": abrupt,
    "gradual": gradual,
    "bbc": bbc,
}


def make_stream(name: str, **kwargs: object) -> TextStream:
    """Build a stream by name.

    Examples
    --------
    >>> make_stream("sudden")
    Traceback (most recent call last):
    ...
    KeyError: "unknown stream 'sudden'; valid: abrupt, bbc, gradual, natural"
    """
    try:
        builder = STREAMS[name]
    except KeyError:
        raise KeyError(f"unknown stream {name!r}; valid: {', '.join(sorted(STREAMS))}") from None
    return builder(**kwargs)
