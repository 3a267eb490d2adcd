"""Checkpoints: atomic layout, verification before parsing, skipping corrupt versions."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch

from learners import (
    CheckpointError,
    CheckpointExists,
    CorruptCheckpoint,
    Example,
    IncompatibleCheckpoint,
    IncrementalLearner,
    NonFiniteWeights,
    checkpoint_digest,
    checkpoint_path,
    default_model_path,
    latest_valid_checkpoint,
    list_versions,
    load_checkpoint,
    load_checkpoint_into,
    next_version,
    prune_checkpoints,
    read_checkpoint,
    read_trained_ids,
    remove_temporaries,
    save_checkpoint,
)
from learners._checkpoint import (
    MANIFEST_FILE,
    MODEL_FILE,
    PARTIAL_WRITE,
    TRAINED_IDS_FILE,
    sha256_bytes,
)
from tests.unit.learners.conftest import Factory


@pytest.fixture
def trained(make_learner: Factory, examples: list[Example]) -> IncrementalLearner:
    learner = make_learner("head")
    learner.learn(examples[:4])
    return learner


def save(
    learner: IncrementalLearner, root: Path, version: int, *, full_state: bool = False
) -> Path:
    save_checkpoint(
        root,
        learner.model,
        version=version,
        parent=version - 1,
        examples_seen=learner.examples_seen,
        full_state=full_state,
    )
    return checkpoint_path(root, "default", version)


def test_layout_and_manifest(trained: IncrementalLearner, tmp_path: Path) -> None:
    manifest = save_checkpoint(
        tmp_path,
        trained.model,
        version=3,
        parent=2,
        examples_seen=4,
        offsets={"streamtune.feedback:0": 17},
        metrics={"loss": 0.25},
        created_ms=1234,
    )
    path = tmp_path / "default" / "v3"
    assert sorted(os.listdir(path)) == ["config.json", "manifest.json", "model.safetensors"]
    assert [p.name for p in tmp_path.joinpath("default").iterdir()] == ["v3"]  # no temp left
    on_disk = json.loads((path / MANIFEST_FILE).read_text())
    assert on_disk["offsets"] == {"streamtune.feedback:0": 17}
    assert on_disk["labels"] == ["negative", "positive"]
    assert on_disk["files"][MODEL_FILE] == sha256_bytes((path / MODEL_FILE).read_bytes())
    assert manifest.base is not None and manifest.base.path == str(default_model_path())
    # Head scope stores only the head: a hot-swap reads kilobytes, not the encoder.
    stored = safetensors.torch.load((path / MODEL_FILE).read_bytes())
    assert sorted(stored) == ["head.linear.bias", "head.linear.weight"]


def test_never_overwrites(trained: IncrementalLearner, tmp_path: Path) -> None:
    save(trained, tmp_path, 1)
    with pytest.raises(CheckpointExists):
        save(trained, tmp_path, 1)


def test_refuses_to_save_nan(trained: IncrementalLearner, tmp_path: Path) -> None:
    with torch.no_grad():
        trained.model.head.linear.weight[0, 0] = float("nan")
    with pytest.raises(NonFiniteWeights):
        save(trained, tmp_path, 1)
    assert list_versions(tmp_path, "default") == []
    assert not tmp_path.joinpath("default").exists()  # nothing written at all


def test_full_state_loads_without_base(trained: IncrementalLearner, tmp_path: Path) -> None:
    path = save(trained, tmp_path, 1, full_state=True)
    assert read_checkpoint(path).manifest.base is None
    model, _ = load_checkpoint(path)
    texts = ["a quiet, lovely film"]
    again = IncrementalLearner(model, trained.tokenizer, trained.config)
    assert np.array_equal(again.predict_proba(texts), trained.predict_proba(texts))


def _corrupt_truncate(path: Path) -> None:
    blob = (path / MODEL_FILE).read_bytes()
    (path / MODEL_FILE).write_bytes(blob[: len(blob) // 2])


def _corrupt_flip(path: Path) -> None:
    blob = bytearray((path / MODEL_FILE).read_bytes())
    blob[-1] ^= 0xFF
    (path / MODEL_FILE).write_bytes(bytes(blob))


def _corrupt_manifest(path: Path) -> None:
    (path / MANIFEST_FILE).write_text("{not json")


def _delete_model(path: Path) -> None:
    (path / MODEL_FILE).unlink()


@pytest.mark.parametrize(
    "corrupt", [_corrupt_truncate, _corrupt_flip, _corrupt_manifest, _delete_model]
)
def test_corruption_is_detected_before_parsing(
    trained: IncrementalLearner, tmp_path: Path, corrupt: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save(trained, tmp_path, 1)
    corrupt(path)  # type: ignore[operator]

    def must_not_parse(data: bytes) -> None:
        raise AssertionError("tensors parsed before verification")

    monkeypatch.setattr(safetensors.torch, "load", must_not_parse)
    with pytest.raises(CorruptCheckpoint):
        load_checkpoint(path)


def _rewrite(path: Path, tensors: dict[str, torch.Tensor], **manifest: object) -> None:
    """Replace the tensors (and manifest fields) with matching sha256, as an attacker could."""
    blob = safetensors.torch.save(tensors)
    (path / MODEL_FILE).write_bytes(blob)
    data = json.loads((path / MANIFEST_FILE).read_text())
    data["files"][MODEL_FILE] = sha256_bytes(blob)
    data.update(manifest)
    (path / MANIFEST_FILE).write_text(json.dumps(data))


def test_rejects_non_finite_weights_even_with_valid_sha(
    trained: IncrementalLearner, tmp_path: Path
) -> None:
    path = save(trained, tmp_path, 1)
    tensors = safetensors.torch.load((path / MODEL_FILE).read_bytes())
    tensors["head.linear.bias"][1] = float("inf")
    _rewrite(path, tensors)
    with pytest.raises(NonFiniteWeights):
        load_checkpoint(path)


def test_rejects_label_count_that_does_not_fit_head(
    trained: IncrementalLearner, tmp_path: Path
) -> None:
    path = save(trained, tmp_path, 1)
    tensors = safetensors.torch.load((path / MODEL_FILE).read_bytes())
    _rewrite(path, tensors, labels=["negative", "positive", "extra"])
    with pytest.raises(IncompatibleCheckpoint, match="3 labels"):
        load_checkpoint(path)


def test_rejects_unknown_tensor(trained: IncrementalLearner, tmp_path: Path) -> None:
    path = save(trained, tmp_path, 1)
    tensors = safetensors.torch.load((path / MODEL_FILE).read_bytes())
    tensors["encoder.evil.weight"] = torch.zeros(2)
    _rewrite(path, tensors)
    with pytest.raises(IncompatibleCheckpoint, match="unknown tensor"):
        load_checkpoint(path)


def test_rejects_other_base(trained: IncrementalLearner, tmp_path: Path) -> None:
    path = save(trained, tmp_path, 1)
    data = json.loads((path / MANIFEST_FILE).read_text())
    _rewrite(
        path,
        safetensors.torch.load((path / MODEL_FILE).read_bytes()),
        base={"path": data["base"]["path"], "sha256": "0" * 64},
    )
    with pytest.raises(IncompatibleCheckpoint, match="base model"):
        load_checkpoint(path)


def test_expected_digest(trained: IncrementalLearner, tmp_path: Path) -> None:
    path = save(trained, tmp_path, 1)
    digest = checkpoint_digest(path)
    _, manifest = load_checkpoint(path, expected_sha256=digest)
    assert manifest.version == 1
    with pytest.raises(CorruptCheckpoint, match="published digest"):
        load_checkpoint(path, expected_sha256="f" * 64)


def test_failed_overlay_leaves_model_untouched(
    trained: IncrementalLearner, make_learner: Factory, tmp_path: Path
) -> None:
    path = save(trained, tmp_path, 1)
    _corrupt_flip(path)
    fresh = make_learner("head")
    before = fresh.model.head.linear.weight.clone()
    with pytest.raises(CorruptCheckpoint):
        load_checkpoint_into(fresh.model, path)
    assert torch.equal(fresh.model.head.linear.weight, before)


def test_latest_valid_skips_corrupt_and_logs(
    trained: IncrementalLearner, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for version in (1, 2, 3):
        save(trained, tmp_path, version)
    _corrupt_truncate(checkpoint_path(tmp_path, "default", 3))
    (tmp_path / "default" / "v4").mkdir()  # a directory without files
    with caplog.at_level(logging.WARNING, logger="learners._checkpoint"):
        found = latest_valid_checkpoint(tmp_path, "default")
    assert found is not None and found[1].version == 2
    assert "v4" in caplog.text and "v3" in caplog.text
    assert next_version(tmp_path, "default") == 5
    assert latest_valid_checkpoint(tmp_path, "absent") is None


def test_prune_keeps_newest_and_current(trained: IncrementalLearner, tmp_path: Path) -> None:
    for version in (1, 2, 3, 4, 5):
        save(trained, tmp_path, version)
    removed = prune_checkpoints(tmp_path, "default", keep=2, current=1)
    assert sorted(p.name for p in removed) == ["v2", "v3"]
    assert [v for v, _ in list_versions(tmp_path, "default")] == [1, 4, 5]


def test_remove_temporaries(tmp_path: Path) -> None:
    (tmp_path / "default" / ".tmp-v3-abc").mkdir(parents=True)
    (tmp_path / "default" / "v2").mkdir()
    assert [p.name for p in remove_temporaries(tmp_path, "default")] == [".tmp-v3-abc"]
    assert [p.name for p in (tmp_path / "default").iterdir()] == ["v2"]


def test_rejects_path_like_model_name(trained: IncrementalLearner, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="invalid model name"):
        save_checkpoint(tmp_path, trained.model, version=1, examples_seen=0, model_name="../x")


def test_top_k_stores_only_what_changed(
    make_learner: Factory, examples: list[Example], tmp_path: Path
) -> None:
    learner = make_learner("top_k", top_k=1)
    learner.learn(examples[:2])
    save_checkpoint(tmp_path, learner.model, version=1, examples_seen=2, scope="top_k")
    stored = safetensors.torch.load(
        (checkpoint_path(tmp_path, "default", 1) / MODEL_FILE).read_bytes()
    )
    layers = {name.split(".")[3] for name in stored if name.startswith("encoder.encoder.layer.")}
    assert layers == {"5"}  # the one trained layer; frozen layers and embeddings come from base
    assert {"head.linear.weight", "head.linear.bias"} <= stored.keys()


def test_delta_needs_a_base(trained: IncrementalLearner, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="full_state=True"):
        save_checkpoint(
            tmp_path, trained.model, version=1, examples_seen=0, base_model_path=tmp_path
        )


def test_trained_ids_are_recorded_sorted_and_verified(
    trained: IncrementalLearner, tmp_path: Path
) -> None:
    manifest = save_checkpoint(
        tmp_path, trained.model, version=2, parent=1, examples_seen=3, trained_ids=["b", "a", "c"]
    )
    path = checkpoint_path(tmp_path, "default", 2)
    assert json.loads((path / TRAINED_IDS_FILE).read_text()) == ["a", "b", "c"]
    assert manifest.files[TRAINED_IDS_FILE] == sha256_bytes((path / TRAINED_IDS_FILE).read_bytes())
    assert read_trained_ids(path) == ["a", "b", "c"]
    assert read_checkpoint(path).trained_ids == ("a", "b", "c")
    load_checkpoint(path)
    (path / TRAINED_IDS_FILE).write_text('["a", "b", "c", "d"]')  # an id slipped in
    with pytest.raises(CorruptCheckpoint, match=r"trained_ids\.json"):
        read_trained_ids(path)
    with pytest.raises(CorruptCheckpoint):
        load_checkpoint(path)


def test_an_empty_trained_ids_list_is_recorded(trained: IncrementalLearner, tmp_path: Path) -> None:
    save_checkpoint(tmp_path, trained.model, version=1, examples_seen=0, trained_ids=[])
    path = checkpoint_path(tmp_path, "default", 1)
    assert (path / TRAINED_IDS_FILE).read_text() == "[]"
    assert read_trained_ids(path) == []


def test_checkpoints_without_trained_ids_still_load(
    trained: IncrementalLearner, tmp_path: Path
) -> None:
    path = save(trained, tmp_path, 1)  # as written before trained ids were recorded
    assert not (path / TRAINED_IDS_FILE).exists()
    assert read_trained_ids(path) == []
    assert read_checkpoint(path).trained_ids == ()
    load_checkpoint(path)


def test_trained_ids_listed_but_missing_or_malformed_is_corrupt(
    trained: IncrementalLearner, tmp_path: Path
) -> None:
    save_checkpoint(tmp_path, trained.model, version=1, examples_seen=1, trained_ids=["a"])
    path = checkpoint_path(tmp_path, "default", 1)
    for bad in (b'{"a": 1}', b'["a", "a"]', b"[1]"):
        (path / TRAINED_IDS_FILE).write_bytes(bad)
        data = json.loads((path / MANIFEST_FILE).read_text())
        data["files"][TRAINED_IDS_FILE] = sha256_bytes(bad)
        (path / MANIFEST_FILE).write_text(json.dumps(data))
        with pytest.raises(CorruptCheckpoint, match=r"trained_ids\.json"):
            read_trained_ids(path)
    (path / TRAINED_IDS_FILE).unlink()
    with pytest.raises(CorruptCheckpoint, match="cannot read"):
        read_checkpoint(path)


def test_manifest_listing_an_unknown_file_is_corrupt(
    trained: IncrementalLearner, tmp_path: Path
) -> None:
    path = save(trained, tmp_path, 1)
    data = json.loads((path / MANIFEST_FILE).read_text())
    data["files"]["extra.bin"] = sha256_bytes(b"")
    (path / MANIFEST_FILE).write_text(json.dumps(data))
    with pytest.raises(CorruptCheckpoint, match="manifest lists"):
        read_checkpoint(path)


def test_a_write_interrupted_midway_leaves_only_a_truncated_temporary(
    trained: IncrementalLearner, tmp_path: Path
) -> None:
    class Killed(BaseException):  # stands in for SIGKILL: nothing after it runs
        pass

    seen: list[tuple[str, int]] = []

    def kill(stage: str) -> None:
        (partial,) = (tmp_path / "default").glob(f".tmp-v1-*/{MODEL_FILE}")
        seen.append((stage, partial.stat().st_size))
        raise Killed

    with pytest.raises(Killed):
        save_checkpoint(
            tmp_path, trained.model, version=1, examples_seen=1, trained_ids=["a"], on_write=kill
        )
    assert seen and seen[0][0] == PARTIAL_WRITE and seen[0][1] > 0
    assert list_versions(tmp_path, "default") == []
    # The exception path tidies up; a real SIGKILL leaves the temporary for start-up.
    assert not list((tmp_path / "default").glob(".tmp-*"))
    stages: list[str] = []
    save_checkpoint(tmp_path, trained.model, version=1, examples_seen=1, on_write=stages.append)
    assert stages == [PARTIAL_WRITE]  # a hook that returns lets the write complete
    assert latest_valid_checkpoint(tmp_path, "default") is not None
