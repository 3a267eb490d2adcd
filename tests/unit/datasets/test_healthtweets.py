"""The vendored health tweets: integrity, facts, and cleaning over the whole corpus."""

from __future__ import annotations

import collections
import csv
import hashlib
import io
import re
from pathlib import Path

import pytest

import streams.datasets as ds
from streams.datasets._tweets import parse_healthtweets

DATA = Path(ds.__file__).parent / "data"


def test_vendored_zip_matches_attribution_checksum() -> None:
    digest = hashlib.sha256((DATA / "healthtweets.zip").read_bytes()).hexdigest()
    assert f"`{digest}`" in (DATA / "ATTRIBUTION.md").read_text(encoding="utf-8")


def test_raw_corpus_facts() -> None:
    raw = ds.load_healthtweets(clean=False)
    counts = collections.Counter(t.outlet for t in raw)
    assert len(raw) == 63_326
    assert len(counts) == 16
    assert set(counts) == set(ds.OUTLET_DESCRIPTIONS)
    assert counts["goodhealth"] == 7_864
    assert counts["usnewshealth"] == 1_400
    assert len({t.id for t in raw}) == len(raw)


def test_loaded_in_time_order_within_2011_to_2015() -> None:
    tweets = ds.load_healthtweets()
    times = [t.time_ms for t in tweets]
    assert times == sorted(times)
    assert 1_307_900_000_000 < times[0] < times[-1] < 1_428_700_000_000  # 2011-06-12 .. 2015-04-11


def test_cleaning_leaves_no_links_handles_or_emails() -> None:
    tweets = ds.load_healthtweets()
    assert len(tweets) == 63_325  # one tweet was only a link
    leaky = re.compile(r"https?|://|www\.|\w\.(?:ly|ms|in|to|ws|pr|it|rs)/|@(?!user\b)\w")
    assert [t.text for t in tweets if leaky.search(t.text)] == []
    assert all(t.text and t.text == t.text.strip() for t in tweets)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Flu shots: http://ow.ly/KiIY0", "Flu shots"),
        ("RT @someone: Ebola toll rises http://reut.rs/1", "Ebola toll rises"),
        ("A&amp;E waits grow   http://bbc.in/x", "A&E waits grow"),
        ("Tips from @SharonPalmerRD: http://ow.ly/L #running", "Tips from @user: #running"),
        ("Email oped@cnn.com today", "Email today"),
        ("Read more at nyti.ms/abc -", "Read more at"),
        ("Story ht… http://t.co/P…", "Story ht…"),
    ],
)
def test_clean_tweet(raw: str, clean: str) -> None:
    assert ds.clean_tweet(raw) == clean


def test_parse_rejects_wrong_columns() -> None:
    with pytest.raises(ValueError, match="source_id"):
        parse_healthtweets(csv.DictReader(io.StringIO("id,body\n1,x\n")))


def test_missing_zip_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="health tweets"):
        ds.load_healthtweets(tmp_path / "nope.zip")


def test_tweet_time_is_the_snowflake_timestamp() -> None:
    assert ds.tweet_time_ms(0) == 1_288_834_974_657
    assert ds.tweet_time_ms(1 << 22) == 1_288_834_974_658
