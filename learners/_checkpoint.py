"""Checkpoints: safetensors plus a JSON manifest, written atomically, verified before use.

Layout: ``<artifact_dir>/<model_name>/v<version>/`` holding ``model.safetensors``,
``config.json`` (the encoder's configuration), optionally ``trained_ids.json`` (the
sorted feedback event ids first trained into this version, so an audit can follow each
example through the lineage) and ``manifest.json``. The manifest lists the sha256 of
every other file; the sha256 of ``manifest.json`` itself is the digest a ``ModelUpdate``
publishes, so it covers the whole checkpoint.

Training state: ``train_state.safetensors`` and ``train_state.json`` (the learner's
optimizer moments and replay buffer, for a worker resuming from this version) sit beside
them but outside the manifest: only the worker reads them, serving never hashes their
megabytes, and :func:`prune_train_state` can drop them from older versions without
touching a published digest. ``train_state.json`` carries the sha256 of the tensors.

Delta storage: by default only tensors that differ from the base encoder are stored
(the head always), and the manifest names the base by path and the sha256 of its
``model.safetensors``. A ``head`` checkpoint is then a few kB and a hot-swap overlays it
on the base model already in memory. ``full_state=True`` (the default for the ``full``
scope) stores every tensor and needs no base to load.

Write order: into ``.tmp-v<version>-<random>/``; every file written and fsynced,
``manifest.json`` last; the directory fsynced; renamed to ``v<version>``; the parent
fsynced. A crash leaves either no version or a complete one (plus a temporary directory
that :func:`remove_temporaries` clears at start-up).

Reading: every file's bytes are read once, their sha256 checked, and only then parsed
from those same bytes (``safetensors.torch.load``: no pickle, no ``torch.load``, and no
window between verifying and parsing in which the file could change).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import safetensors.torch
import torch
from pydantic import ValidationError
from transformers import BertConfig

from learners._manifest import (
    NAME,
    BaseModelRef,
    CheckpointData,
    CheckpointError,
    CheckpointExists,
    CorruptCheckpoint,
    IncompatibleCheckpoint,
    Manifest,
    NonFiniteWeights,
)
from learners._model import TextClassifier, empty_encoder, load_encoder
from learners._scopes import Scope
from learners._train_state import TrainState

log = logging.getLogger(__name__)

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
MANIFEST_FILE = "manifest.json"
TRAINED_IDS_FILE = "trained_ids.json"
TRAIN_STATE_FILE = "train_state.safetensors"
TRAIN_META_FILE = "train_state.json"
_REQUIRED_FILES = frozenset({MODEL_FILE, CONFIG_FILE})
_OPTIONAL_FILES = frozenset({TRAINED_IDS_FILE})
#: Stage passed to ``save_checkpoint(on_write=...)`` once half of the tensors are written
#: (not yet complete, synced or renamed): where a fault test kills the writer.
PARTIAL_WRITE = "model_partial"
_MAX_MANIFEST_BYTES = 16 * 1024 * 1024
_VERSION_DIR = re.compile(r"^v(\d+)$")
_HEAD_KEYS = ("head.linear.weight", "head.linear.bias")


# --- hashing and durable writes -----------------------------------------------------------


def sha256_bytes(data: bytes) -> str:
    """Hex sha256.

    Examples
    --------
    >>> sha256_bytes(b"")[:12]
    'e3b0c44298fc'
    """
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@functools.lru_cache(maxsize=8)
def _cached_sha256(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(path)


def _base_sha256(base_model_path: Path) -> str:
    """sha256 of a base model's weights, cached while the file's size and mtime hold."""
    weights = base_model_path / MODEL_FILE
    try:
        st = weights.stat()
    except OSError as exc:
        raise IncompatibleCheckpoint(f"base model has no {MODEL_FILE}: {weights}") from exc
    return _cached_sha256(str(weights.resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=1)
def _cached_base_state(path: str, sha256: str) -> dict[str, torch.Tensor]:
    encoder = load_encoder(path)
    return {f"encoder.{k}": v.detach() for k, v in encoder.state_dict().items()}


def _write_synced(path: Path, data: bytes, midway: Callable[[], None] | None = None) -> None:
    with open(path, "xb") as fh:
        if midway is not None:
            half = len(data) // 2
            fh.write(data[:half])
            fh.flush()
            midway()
            data = data[half:]
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- layout --------------------------------------------------------------------------------


def _model_dir(artifact_dir: str | Path, model_name: str) -> Path:
    if not NAME.match(model_name):
        raise CheckpointError(f"invalid model name {model_name!r}: want {NAME.pattern}")
    return Path(artifact_dir) / model_name


def checkpoint_path(artifact_dir: str | Path, model_name: str, version: int) -> Path:
    """Directory of one version.

    Examples
    --------
    >>> checkpoint_path("artifacts", "default", 3).as_posix()
    'artifacts/default/v3'
    """
    return _model_dir(artifact_dir, model_name) / f"v{version}"


def list_versions(artifact_dir: str | Path, model_name: str) -> list[tuple[int, Path]]:
    """Every ``v<N>`` directory present, valid or not, oldest first."""
    root = _model_dir(artifact_dir, model_name)
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        match = _VERSION_DIR.match(child.name)
        if match and child.is_dir():
            found.append((int(match.group(1)), child))
    return sorted(found)


def next_version(artifact_dir: str | Path, model_name: str) -> int:
    """One above the highest version directory present (corrupt ones included), at least 1.

    Version 0 is the untrained model from ``build_initial``.
    """
    versions = list_versions(artifact_dir, model_name)
    return versions[-1][0] + 1 if versions else 1


def checkpoint_digest(path: str | Path) -> str:
    """sha256 of ``manifest.json``: what a ``ModelUpdate`` publishes as ``sha256``."""
    return file_sha256(Path(path) / MANIFEST_FILE)


# --- saving ----------------------------------------------------------------------------------


def _tensors_to_store(
    model: TextClassifier, base: dict[str, torch.Tensor] | None
) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for name, tensor in model.state_dict().items():
        value = tensor.detach().to("cpu").contiguous()
        if base is not None and not name.startswith("head."):
            ref = base.get(name)
            if ref is not None and ref.shape == value.shape and torch.equal(ref, value):
                continue
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise NonFiniteWeights(f"refusing to save: {name} holds NaN or infinity")
        out[name] = value
    return out


def save_checkpoint(
    artifact_dir: str | Path,
    model: TextClassifier,
    *,
    version: int,
    parent: int | None = None,
    examples_seen: int,
    offsets: Mapping[str, int] | None = None,
    metrics: Mapping[str, float] | None = None,
    scope: Scope = "head",
    model_name: str = "default",
    base_model_path: str | Path | None = None,
    full_state: bool | None = None,
    created_ms: int | None = None,
    trained_ids: Iterable[str] | None = None,
    train_state: TrainState | None = None,
    on_write: Callable[[str], None] | None = None,
) -> Manifest:
    """Write ``<artifact_dir>/<model_name>/v<version>/`` atomically and return its manifest.

    Parameters
    ----------
    artifact_dir, model_name, version
        Where: ``<artifact_dir>/<model_name>/v<version>/``.
    model
        The classifier to store (on any device; tensors are written as they are).
    parent
        The version this one was trained from.
    examples_seen
        Examples trained into this version since version 0 (new examples, not replay).
    offsets
        Next offset to consume per ``topic:partition``; see :func:`offsets_covered`.
    metrics
        Finite training metrics to record.
    scope
        The scope that trained it (recorded; also the ``full_state`` default).
    base_model_path
        Directory of the base encoder for delta storage; by default the directory the
        encoder was loaded from (``encoder.config._name_or_path``).
    full_state
        Store every tensor and no base reference. Defaults to ``scope == "full"``.
    created_ms
        Creation time, epoch ms; now by default.
    trained_ids
        The feedback event ids first trained into this version (not its ancestors'):
        written as ``trained_ids.json``, sorted, and covered by the manifest. ``None``
        writes no such file.
    train_state
        The learner's optimizer moments and replay buffer, for a worker that resumes from
        this version (written with the checkpoint, outside its manifest).
    on_write
        Called with :data:`PARTIAL_WRITE` while the tensors file is half written (for
        fault injection: a process killed there leaves a truncated temporary).

    Raises
    ------
    CheckpointExists
        ``v<version>`` is already there.
    NonFiniteWeights
        The model holds NaN or infinity; nothing is written.
    """
    final = checkpoint_path(artifact_dir, model_name, version)
    if final.exists():
        raise CheckpointExists(f"{final} exists; versions are never overwritten")
    if full_state is None:
        full_state = scope == "full"
    base_ref: BaseModelRef | None = None
    base_state: dict[str, torch.Tensor] | None = None
    if not full_state:
        base_path = Path(base_model_path or str(model.encoder.config._name_or_path))
        if not (base_path / MODEL_FILE).is_file():
            raise CheckpointError(
                f"no base model weights at {base_path}; pass base_model_path= or full_state=True"
            )
        sha = _base_sha256(base_path)
        base_ref = BaseModelRef(path=str(base_path), sha256=sha)
        base_state = _cached_base_state(str(base_path), sha)
    blob = safetensors.torch.save(_tensors_to_store(model, base_state))
    config = model.encoder.config.to_json_string(use_diff=False).encode("utf-8")
    files = {MODEL_FILE: sha256_bytes(blob), CONFIG_FILE: sha256_bytes(config)}
    ids_blob: bytes | None = None
    if trained_ids is not None:
        ids_blob = json.dumps(sorted(set(trained_ids))).encode("utf-8")
        files[TRAINED_IDS_FILE] = sha256_bytes(ids_blob)
    extra: dict[str, bytes] = {}
    if train_state is not None:
        state_blob = safetensors.torch.save(train_state.tensors)
        extra[TRAIN_STATE_FILE] = state_blob
        # Written after the tensors: a reader finding the JSON finds both.
        extra[TRAIN_META_FILE] = json.dumps(
            {"version": version, "sha256": sha256_bytes(state_blob), "meta": train_state.meta}
        ).encode("utf-8")
    manifest = Manifest(
        model_name=model_name,
        version=version,
        parent=parent,
        created_ms=int(time.time() * 1000) if created_ms is None else created_ms,
        scope=scope,
        labels=tuple(model.labels),
        head_scale=float(model.head.scale),
        examples_seen=examples_seen,
        offsets=dict(offsets or {}),
        metrics=dict(metrics or {}),
        files=files,
        base=base_ref,
        torch_version=torch.__version__,
    )
    root = final.parent
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".tmp-v{version}-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        midway = None if on_write is None else functools.partial(on_write, PARTIAL_WRITE)
        _write_synced(tmp / MODEL_FILE, blob, midway)
        _write_synced(tmp / CONFIG_FILE, config)
        if ids_blob is not None:
            _write_synced(tmp / TRAINED_IDS_FILE, ids_blob)
        for name, data in extra.items():
            _write_synced(tmp / name, data)
        _write_synced(tmp / MANIFEST_FILE, manifest.model_dump_json(indent=2).encode("utf-8"))
        _fsync_dir(tmp)
        if final.exists():
            raise CheckpointExists(
                f"{final} appeared while writing; versions are never overwritten"
            )
        os.rename(tmp, final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


# --- reading ----------------------------------------------------------------------------------


def _read(path: Path, limit: int | None = None) -> bytes:
    try:
        with open(path, "rb") as fh:
            data = fh.read() if limit is None else fh.read(limit + 1)
    except OSError as exc:
        raise CorruptCheckpoint(f"cannot read {path}: {exc}") from exc
    if limit is not None and len(data) > limit:
        raise CorruptCheckpoint(f"{path} is larger than {limit} bytes")
    return data


def read_checkpoint(path: str | Path, *, expected_sha256: str | None = None) -> CheckpointData:
    """Verify every sha256, then parse; checks shapes against the label set and finiteness.

    ``expected_sha256`` is the published digest of ``manifest.json`` (see
    :func:`checkpoint_digest`); when given, a manifest that differs is rejected first.
    """
    path = Path(path)
    manifest = _read_manifest(path, expected_sha256)
    blobs = {name: _verified(path, manifest, name) for name in manifest.files}
    trained_ids = _parse_ids(path, blobs.get(TRAINED_IDS_FILE))
    try:
        encoder_config = json.loads(blobs[CONFIG_FILE])
        tensors = safetensors.torch.load(blobs[MODEL_FILE])
    except Exception as exc:  # safetensors raises its own error type; any failure is corrupt
        raise CorruptCheckpoint(f"{path}: cannot parse: {exc}") from exc
    if not isinstance(encoder_config, dict) or not isinstance(
        encoder_config.get("hidden_size"), int
    ):
        raise CorruptCheckpoint(f"{path}: {CONFIG_FILE} has no integer hidden_size")
    _check_head(path, manifest, tensors, int(encoder_config["hidden_size"]))
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise NonFiniteWeights(f"{path}: {name} holds NaN or infinity")
    return CheckpointData(path, manifest, tensors, encoder_config, trained_ids)


def read_trained_ids(path: str | Path, *, expected_sha256: str | None = None) -> list[str]:
    """The event ids first trained into one version, sha256-verified; ``[]`` if not recorded.

    Reads only the manifest and ``trained_ids.json`` (not the tensors): cheap enough to
    audit every version. Checkpoints written before the file existed hold no record.

    Raises
    ------
    CorruptCheckpoint
        The manifest or the file is unreadable, invalid, or its sha256 differs.
    """
    path = Path(path)
    manifest = _read_manifest(path, expected_sha256)
    if TRAINED_IDS_FILE not in manifest.files:
        return []
    return list(_parse_ids(path, _verified(path, manifest, TRAINED_IDS_FILE)))


def read_train_state(path: str | Path) -> TrainState | None:
    """The training state stored with checkpoint ``path``, verified; ``None`` if absent.

    Raises
    ------
    CorruptCheckpoint
        A training-state file is unreadable, unparsable, of another version, or its
        tensors' sha256 differs from the one ``train_state.json`` records.
    """
    path = Path(path)
    if not (path / TRAIN_META_FILE).exists():
        return None
    manifest = _read_manifest(path, None)
    try:
        record = json.loads(_read(path / TRAIN_META_FILE, _MAX_MANIFEST_BYTES * 4))
        version, sha, meta = record["version"], record["sha256"], record["meta"]
    except (ValueError, TypeError, KeyError) as exc:
        raise CorruptCheckpoint(f"{path}: invalid {TRAIN_META_FILE}: {exc!r}") from exc
    if version != manifest.version or not isinstance(meta, dict):
        raise CorruptCheckpoint(f"{path}: {TRAIN_META_FILE} is not this version's")
    blob = _read(path / TRAIN_STATE_FILE)
    if sha256_bytes(blob) != sha:
        raise CorruptCheckpoint(f"{path}: sha256 of {TRAIN_STATE_FILE} does not match")
    try:
        tensors = safetensors.torch.load(blob)
    except Exception as exc:  # safetensors raises its own error type; any failure is corrupt
        raise CorruptCheckpoint(f"{path}: cannot parse {TRAIN_STATE_FILE}: {exc}") from exc
    return TrainState(tensors, meta)


def prune_train_state(artifact_dir: str | Path, model_name: str, keep: int = 2) -> int:
    """Drop the training state of all but the newest ``keep`` versions; returns how many.

    Only a resuming worker reads it, from the newest valid version (an older one only if
    the newer are corrupt), while every version's weights stay for rollback and audit.
    """
    dropped = 0
    for _, path in list_versions(artifact_dir, model_name)[: -keep or None]:
        if (path / TRAIN_META_FILE).exists():
            (path / TRAIN_META_FILE).unlink()  # first: without it the tensors are ignored
            (path / TRAIN_STATE_FILE).unlink(missing_ok=True)
            dropped += 1
    return dropped


def _read_manifest(path: Path, expected_sha256: str | None) -> Manifest:
    raw = _read(path / MANIFEST_FILE, _MAX_MANIFEST_BYTES)
    if expected_sha256 is not None and sha256_bytes(raw) != expected_sha256:
        raise CorruptCheckpoint(f"{path}: manifest sha256 differs from the published digest")
    try:
        manifest = Manifest.model_validate_json(raw)
    except ValidationError as exc:
        raise CorruptCheckpoint(f"{path}: invalid manifest: {exc}") from exc
    names = set(manifest.files)
    if not names >= _REQUIRED_FILES or names - _REQUIRED_FILES - _OPTIONAL_FILES:
        raise CorruptCheckpoint(f"{path}: manifest lists {sorted(manifest.files)}")
    return manifest


def _verified(path: Path, manifest: Manifest, name: str) -> bytes:
    data = _read(path / name)
    if sha256_bytes(data) != manifest.files[name]:
        raise CorruptCheckpoint(f"{path}: sha256 of {name} does not match the manifest")
    return data


def _parse_ids(path: Path, blob: bytes | None) -> tuple[str, ...]:
    if blob is None:
        return ()
    try:
        ids = json.loads(blob)
    except ValueError as exc:
        raise CorruptCheckpoint(f"{path}: {TRAINED_IDS_FILE} is not JSON: {exc}") from exc
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise CorruptCheckpoint(f"{path}: {TRAINED_IDS_FILE} is not a list of strings")
    if len(set(ids)) != len(ids):
        raise CorruptCheckpoint(f"{path}: {TRAINED_IDS_FILE} repeats an id")
    return tuple(ids)


def _check_head(path: Path, manifest: Manifest, tensors: dict[str, torch.Tensor], dim: int) -> None:
    missing = [k for k in _HEAD_KEYS if k not in tensors]
    if missing:
        raise IncompatibleCheckpoint(f"{path}: head tensors missing: {missing}")
    n = len(manifest.labels)
    weight, bias = (tensors[k] for k in _HEAD_KEYS)
    if tuple(weight.shape) != (n, dim) or tuple(bias.shape) != (n,):
        raise IncompatibleCheckpoint(
            f"{path}: head shapes {tuple(weight.shape)}, {tuple(bias.shape)} do not fit "
            f"{n} labels of dimension {dim}"
        )


def apply_checkpoint(model: TextClassifier, data: CheckpointData) -> None:
    """Overlay verified tensors on ``model`` in place: new head and label set, changed layers.

    For a delta checkpoint ``model`` must hold the base encoder the manifest names (for
    example a deep copy of the version-0 model kept for that purpose), because tensors
    not stored are taken from it. Everything is checked before anything is changed.
    """
    manifest = data.manifest
    cfg = model.encoder.config
    for key in ("hidden_size", "num_hidden_layers", "vocab_size"):
        if data.encoder_config.get(key) != getattr(cfg, key):
            raise IncompatibleCheckpoint(
                f"{data.path}: encoder {key}={data.encoder_config.get(key)} but the model has "
                f"{getattr(cfg, key)}"
            )
    encoder_state = {f"encoder.{k}": v for k, v in model.encoder.state_dict().items()}
    for name, tensor in data.tensors.items():
        if name in _HEAD_KEYS:
            continue
        ref = encoder_state.get(name)
        if ref is None:
            raise IncompatibleCheckpoint(f"{data.path}: unknown tensor {name}")
        if ref.shape != tensor.shape or ref.dtype != tensor.dtype:
            raise IncompatibleCheckpoint(f"{data.path}: {name} has the wrong shape or dtype")
    if manifest.base is None:
        absent = sorted(set(encoder_state) - set(data.tensors))
        if absent:
            raise IncompatibleCheckpoint(f"{data.path}: full-state checkpoint lacks {absent[:3]}")
    with torch.no_grad():
        for name, tensor in data.tensors.items():
            if name not in _HEAD_KEYS:
                encoder_state[name].copy_(tensor)
        head = type(model.head)(model.dim, len(manifest.labels), manifest.head_scale)
        head.linear.weight.copy_(data.tensors["head.linear.weight"])
        head.linear.bias.copy_(data.tensors["head.linear.bias"])
    device = next(model.encoder.parameters()).device
    model.head = head.to(device)
    model.labels = list(manifest.labels)


def load_checkpoint_into(
    model: TextClassifier, path: str | Path, *, expected_sha256: str | None = None
) -> Manifest:
    """Verify a checkpoint and overlay it on an already-loaded base model (cheap hot-swap)."""
    data = read_checkpoint(path, expected_sha256=expected_sha256)
    apply_checkpoint(model, data)
    return data.manifest


def load_checkpoint(
    path: str | Path,
    *,
    base_model_path: str | Path | None = None,
    expected_sha256: str | None = None,
) -> tuple[TextClassifier, Manifest]:
    """Verify and load a checkpoint into a new :class:`TextClassifier`.

    A delta checkpoint loads its base from ``base_model_path`` (default: the path the
    manifest recorded) and refuses a base whose sha256 differs from the manifest's.
    """
    data = read_checkpoint(path, expected_sha256=expected_sha256)
    base = data.manifest.base
    if base is None:
        encoder = empty_encoder(BertConfig.from_dict(data.encoder_config))
    else:
        base_path = Path(base_model_path or base.path)
        if _base_sha256(base_path) != base.sha256:
            raise IncompatibleCheckpoint(
                f"{data.path}: base model {base_path} is not the one it was trained from "
                f"(sha256 {base.sha256[:12]}...)"
            )
        encoder = load_encoder(base_path)
    model = TextClassifier(encoder, data.manifest.labels, data.manifest.head_scale)
    apply_checkpoint(model, data)
    model.eval()
    return model, data.manifest


def verify_checkpoint(path: str | Path, *, base_model_path: str | Path | None = None) -> Manifest:
    """Full verification without building a model; raises :class:`CheckpointError`."""
    data = read_checkpoint(path)
    base = data.manifest.base
    if (
        base is not None
        and base_model_path is not None
        and _base_sha256(Path(base_model_path)) != base.sha256
    ):
        raise IncompatibleCheckpoint(f"{path}: trained from another base model")
    return data.manifest


def latest_valid_checkpoint(
    artifact_dir: str | Path, model_name: str, *, base_model_path: str | Path | None = None
) -> tuple[Path, Manifest] | None:
    """The newest version that verifies, skipping (and logging) corrupt or truncated ones."""
    for version, path in reversed(list_versions(artifact_dir, model_name)):
        try:
            manifest = verify_checkpoint(path, base_model_path=base_model_path)
        except CheckpointError as exc:
            log.warning("skipping checkpoint v%d: %s", version, exc)
            continue
        if manifest.version != version or manifest.model_name != model_name:
            log.warning(
                "skipping checkpoint v%d: manifest names %s v%d",
                version,
                manifest.model_name,
                manifest.version,
            )
            continue
        return path, manifest
    return None


# --- retention ----------------------------------------------------------------------------------


def prune_checkpoints(
    artifact_dir: str | Path, model_name: str, *, keep: int, current: int | None = None
) -> list[Path]:
    """Delete all but the newest ``keep`` versions; never the ``current`` one. Returns removed."""
    if keep < 1:
        raise ValueError(f"keep must be >= 1, got {keep}")
    versions = list_versions(artifact_dir, model_name)
    doomed = [(v, p) for v, p in versions[: max(0, len(versions) - keep)] if v != current]
    for _, path in doomed:
        shutil.rmtree(path)
    return [p for _, p in doomed]


def remove_temporaries(artifact_dir: str | Path, model_name: str) -> list[Path]:
    """Delete ``.tmp-*`` directories left by a crash mid-save; call at start-up only."""
    root = _model_dir(artifact_dir, model_name)
    if not root.is_dir():
        return []
    stale = [p for p in root.iterdir() if p.name.startswith(".tmp-") and p.is_dir()]
    for path in stale:
        shutil.rmtree(path)
    return stale
