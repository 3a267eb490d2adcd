"""A seeded stream of clearly topical sentences (sport, politics, ...), for loop tests.

Zero-shot version 0 classifies these well, so an abrupt label remap shows as a clean
jump in the served error rate.
"""

from __future__ import annotations

import random

WORDS = {
    "sport": ["striker", "goal", "match", "coach", "league", "tennis", "cricket", "marathon"],
    "politics": ["parliament", "minister", "election", "vote", "senate", "policy", "cabinet"],
    "technology": ["software", "chip", "smartphone", "internet", "laptop", "robot", "app"],
    "business": ["shares", "profit", "bank", "market", "investors", "company", "economy"],
    "entertainment": ["film", "actor", "album", "concert", "movie", "singer", "festival"],
}
TEMPLATES = [
    "The {a} and the {b} dominated the news today.",
    "Reports about the {a} mention the {b} again.",
    "A new story on the {a}: the {b} surprised everyone.",
    "Experts discussed the {a} and what the {b} means.",
]
LABELS = tuple(WORDS)


def topical(n: int, seed: int = 0, start: int = 0) -> list[tuple[str, str, str]]:
    """``n`` (event_id, text, label) triples with ids ``t{start}``..."""
    rng = random.Random(seed)
    out = []
    for i in range(start, start + n):
        label = rng.choice(LABELS)
        a, b = rng.sample(WORDS[label], 2)
        out.append((f"t{i}", rng.choice(TEMPLATES).format(a=a, b=b), label))
    return out


def remap(label: str) -> str:
    """The concept change: every label becomes the next one (a cyclic shift)."""
    return LABELS[(LABELS.index(label) + 1) % len(LABELS)]
