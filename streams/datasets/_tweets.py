"""The vendored "Health News in Twitter" corpus: loading, timestamps and text cleaning.

The label is the outlet (the ``source_id`` prefix). URLs and @handles are removed at load
time because they leak the label (every outlet has its own link shortener, ``nyti.ms``,
``bbc.in``, ``reut.rs``...), which would make the task link-shortener recognition instead of
text classification.
"""

from __future__ import annotations

import csv
import functools
import html
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

#: Twitter snowflake ids carry milliseconds since this epoch in their top 41 bits.
_SNOWFLAKE_EPOCH_MS = 1_288_834_974_657

_DATA = Path(__file__).resolve().parent / "data" / "healthtweets.zip"
_MEMBER = "healthtweets.csv"

#: Every outlet in the corpus, with a short description (a zero-shot label text).
OUTLET_DESCRIPTIONS: dict[str, str] = {
    "KaiserHealthNews": "Kaiser Health News: US health policy, insurance and Obamacare",
    "NBChealth": "NBC News Health: US general health news",
    "bbchealth": "BBC Health: UK health news and the NHS",
    "cbchealth": "CBC Health: Canadian health news",
    "cnnhealth": "CNN Health: US health, fitness and medical stories",
    "everydayhealth": "Everyday Health: wellness tips and health chats",
    "foxnewshealth": "Fox News Health: US health news",
    "gdnhealthcare": "Guardian Healthcare Network: NHS, nursing and social care",
    "goodhealth": "Health magazine: fitness, diet, beauty and wellness tips",
    "latimeshealth": "Los Angeles Times health and science news",
    "msnhealthnews": "MSN Health: medical research findings",
    "nprhealth": "NPR Health: health policy and science stories",
    "nytimeshealth": "New York Times Health and the Well blog",
    "reuters_health": "Reuters Health: world health and medical news",
    "usnewshealth": "US News Health: fitness, diet and wellness advice",
    "wsjhealth": "Wall Street Journal Health: health industry and pharma",
}

#: Five outlets active side by side from late 2012 to 2015, for a demo-sized stream.
DEMO_OUTLETS: tuple[str, ...] = (
    "KaiserHealthNews",
    "cnnhealth",
    "goodhealth",
    "latimeshealth",
    "nprhealth",
)

#: 2012-10-01 UTC: from here all five :data:`DEMO_OUTLETS` tweet side by side.
DEMO_START_MS = 1_349_049_600_000

_URL = re.compile(
    r"h?ttps?:/+\S*|https?\S*|\bwww\.\S*"  # also truncated "http…", typo "ttp://", glued
    r"|\b[\w-]+(?:\.[\w-]+)+/\S*",  # bare short links such as bit.ly/abc
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_RETWEET = re.compile(r"^(?:RT|MT)\s+@\w+:?\s*")
_HANDLE = re.compile(r"@\w+")
_SPACE = re.compile(r"\s+")
_TRAILING = " \t:|-–—~>"


@dataclass(frozen=True, slots=True)
class Tweet:
    """One tweet of the corpus."""

    id: int
    time_ms: int
    outlet: str
    text: str


def tweet_time_ms(tweet_id: int) -> int:
    """Return the posting time (epoch ms) encoded in a Twitter snowflake id.

    Examples
    --------
    >>> import datetime as dt
    >>> ms = tweet_time_ms(577117109701967872)
    >>> dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).date().isoformat()
    '2015-03-15'
    """
    return (tweet_id >> 22) + _SNOWFLAKE_EPOCH_MS


def clean_tweet(text: str) -> str:
    """Remove what identifies the outlet rather than the content.

    Decodes HTML entities, drops a leading ``RT @handle:``, removes URLs (including
    truncated ``http…`` and bare short links) and e-mail addresses (their domains name
    the outlet), replaces other @handles with ``@user``,
    strips separators left dangling at the end, and collapses whitespace. Hashtags and
    wording are kept: they are content.

    Examples
    --------
    >>> clean_tweet("Busted! 15 myths about cellulite: http://ow.ly/KiIY0")
    'Busted! 15 myths about cellulite'
    >>> clean_tweet("RT @cslnyt: 41% of women in Utah were prescribed opioids http://nyti.ms/1iM")
    '41% of women in Utah were prescribed opioids'
    >>> clean_tweet("A&amp;E locum spend, via @GdnSocialCare bit.ly/x1 http://t.co/6Z…")
    'A&E locum spend, via @user'
    >>> clean_tweet("Send your story to tell.us@health.com! Video from@thebendigirl")
    'Send your story to ! Video from@user'
    >>> clean_tweet("http://bbc.in/1dx45TQ")
    ''
    """
    text = html.unescape(text)
    text = _RETWEET.sub("", text.strip())
    text = _EMAIL.sub(" ", text)
    text = _URL.sub(" ", text)
    text = _HANDLE.sub("@user", text)
    text = _SPACE.sub(" ", text).strip()
    return text.rstrip(_TRAILING)


def parse_healthtweets(rows: csv.DictReader[str], *, clean: bool = True) -> list[Tweet]:
    r"""Parse tweets from the CSV rows (``source_id,text``), sorted by time then id.

    Tweets whose text is empty after cleaning are dropped.

    Examples
    --------
    >>> rows = csv.DictReader(io.StringIO(
    ...     "source_id,text\nbbchealth-577117109701967872,Flu up http://bbc.in/1\n"
    ...     "nprhealth-576979914592804864,Sleep well\nnprhealth-576979914592804865,http://n.pr/x\n"))
    >>> [(t.outlet, t.text) for t in parse_healthtweets(rows)]
    [('nprhealth', 'Sleep well'), ('bbchealth', 'Flu up')]
    """
    if rows.fieldnames is None or not {"source_id", "text"} <= set(rows.fieldnames):
        raise ValueError(f"expected columns source_id,text; got {rows.fieldnames}")
    tweets = []
    for row in rows:
        outlet, _, raw_id = row["source_id"].rpartition("-")
        tweet_id = int(raw_id)
        text = clean_tweet(row["text"]) if clean else row["text"]
        if text:
            tweets.append(Tweet(tweet_id, tweet_time_ms(tweet_id), outlet, text))
    tweets.sort(key=lambda t: (t.time_ms, t.id))
    return tweets


@functools.lru_cache(maxsize=4)
def load_healthtweets(path: str | Path | None = None, *, clean: bool = True) -> tuple[Tweet, ...]:
    """Load the corpus (the vendored zip by default), in time order.

    Parameters
    ----------
    path
        A ``healthtweets.zip`` holding ``healthtweets.csv``; defaults to the vendored copy.
    clean
        Apply :func:`clean_tweet` (and drop tweets that become empty).
    """
    source = Path(path) if path is not None else _DATA
    if not source.is_file():
        raise FileNotFoundError(f"health tweets corpus not found at {source}")
    with zipfile.ZipFile(source) as archive, archive.open(_MEMBER) as raw:
        reader = csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        return tuple(parse_healthtweets(reader, clean=clean))
