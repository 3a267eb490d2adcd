from __future__ import annotations

from pathlib import Path

import pytest

from schemas import Settings, SettingsError


def test_defaults_and_topic_catalogue() -> None:
    s = Settings.from_env({})
    assert s.topics.all() == (
        "streamtune.texts",
        "streamtune.feedback",
        "streamtune.predictions",
        "streamtune.drift-alerts",
        "streamtune.model-updates",
        "streamtune.dead-letter",
    )
    assert Settings.from_env({"STREAMTUNE_TOPIC_PREFIX": "x."}).topics.texts == "x.texts"


def test_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(SettingsError, match="STREAMTUNE_BOOTSTRAP_SERVERS"):
        Settings.from_env({"STREAMTUNE_BOOTSRAP_SERVERS": "x"})


def test_other_variables_are_ignored() -> None:
    assert Settings.from_env({"PATH": "/bin", "HOME": "/root"}).partitions == 3


def test_frozen() -> None:
    s = Settings()
    with pytest.raises(ValueError, match="frozen"):
        s.partitions = 4


def test_labels_and_descriptions_parse() -> None:
    s = Settings.from_env(
        {"STREAMTUNE_LABELS": "a, b,c", "STREAMTUNE_LABEL_DESCRIPTIONS": '{"a": "alpha"}'}
    )
    assert s.labels == ("a", "b", "c")
    assert s.label_descriptions == {"a": "alpha"}
    with pytest.raises(SettingsError):
        Settings.from_env({"STREAMTUNE_LABELS": "a,a"})


def test_secret_from_file_and_never_in_repr_or_errors(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    f.write_text("hunter2-very-secret\n")
    s = Settings.from_env(
        {
            "STREAMTUNE_SASL_PASSWORD_FILE": str(f),
            "STREAMTUNE_REDIS_URL": "redis://user:topsecretpw@host:6379/0",
        }
    )
    assert s.sasl_password is not None
    assert s.sasl_password.get_secret_value() == "hunter2-very-secret"
    assert "hunter2" not in repr(s)
    assert "topsecretpw" not in repr(s) and "topsecretpw" not in str(s)
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"STREAMTUNE_PARTITIONS": "topsecretpw"})
    assert "topsecretpw" not in str(err.value)


def test_to_env_round_trips() -> None:
    s = Settings(partitions=5, labels=("x", "y"), label_descriptions={"x": "ex"}, seed=3)
    assert Settings.from_env(s.to_env()) == s
