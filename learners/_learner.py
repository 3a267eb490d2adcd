"""The incremental learner: one AdamW step per micro-batch of labelled examples.

A step: cap each user's share of the batch, grow the label set for labels never seen,
mix in replayed examples, then one optimizer step on the weighted cross-entropy of the
lot. Per-example losses come from the step's own forward pass, i.e. before the update,
so they are prequential (test-then-train) and can feed drift detectors directly.

The model stays in eval mode while training: dropout off keeps steps deterministic
and matters little for small online updates. The object is not thread-safe: one
thread (the worker's training executor) owns it.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from learners._caps import cap_per_user
from learners._config import LearnerConfig
from learners._device import autocast, select_device
from learners._examples import Example
from learners._model import TextClassifier, tokenize
from learners._replay import ReplayBuffer
from learners._scopes import apply_scope
from learners._train_state import TrainState, capture, restore_optimizer, restore_replay


@dataclass(frozen=True, slots=True)
class StepResult:
    """What one :meth:`IncrementalLearner.learn` call did.

    ``event_ids``, ``losses`` and ``correct`` describe the new examples trained, in batch
    order; each example's loss and correctness are measured before the update of the
    step that trained it. Replayed examples are trained too but are counted only in
    ``n_replayed``. ``n_steps`` counts the optimizer steps taken (see
    ``LearnerConfig.step_examples``); ``grad_norm`` and ``lr`` are the last step's.
    """

    event_ids: tuple[str, ...] = ()
    losses: tuple[float, ...] = ()
    correct: tuple[bool, ...] = ()
    n_replayed: int = 0
    n_steps: int = 0
    dropped_ids: tuple[str, ...] = ()
    labels_added: tuple[str, ...] = ()
    grad_norm: float | None = None
    lr: float | None = None
    #: Training weight of the new examples after the per-user cap: in all, and per user.
    weight_total: float = 0.0
    user_weights: tuple[tuple[str, float], ...] = ()

    @property
    def n_trained(self) -> int:
        """New examples trained by this step (what a manifest counts)."""
        return len(self.event_ids)

    @property
    def n_dropped(self) -> int:
        """Examples dropped by the per-user cap."""
        return len(self.dropped_ids)

    @property
    def mean_loss(self) -> float | None:
        """Mean loss of the new examples, or ``None`` when nothing was trained."""
        return sum(self.losses) / len(self.losses) if self.losses else None

    @property
    def accuracy(self) -> float | None:
        """Share of the new examples predicted right before the update."""
        return sum(self.correct) / len(self.correct) if self.correct else None


class IncrementalLearner:
    """Trains a :class:`TextClassifier` in place, one batch of :class:`Example` at a time.

    Parameters
    ----------
    model
        The classifier; the learner moves it to the configured device and owns it.
    tokenizer
        The encoder's tokenizer, for scopes that run the encoder (and for missing embeddings).
    config
        How to train; see :class:`LearnerConfig`.
    examples_seen
        Where the count resumes, e.g. from the manifest of the checkpoint loaded.
    """

    def __init__(
        self,
        model: TextClassifier,
        tokenizer: PreTrainedTokenizerBase,
        config: LearnerConfig | None = None,
        *,
        examples_seen: int = 0,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.config = config or LearnerConfig()
        self.examples_seen = examples_seen
        self.steps = 0
        self.device = select_device(self.config.device)
        self.model.to(self.device)
        self.model.eval()
        self._params = apply_scope(model, self.config.scope, self.config.top_k)
        self._optimizer = self._build_optimizer()
        self.replay = ReplayBuffer(self.config.replay_size, seed=self.config.seed)
        self._warm_step = 0

    @property
    def labels(self) -> list[str]:
        """The model's label set, in output-row order."""
        return self.model.labels

    @property
    def optimizer(self) -> torch.optim.AdamW:
        """The AdamW optimizer over the scope's parameters (read it; do not step it)."""
        return self._optimizer

    def _build_optimizer(self) -> torch.optim.AdamW:
        # Decay matrices only: decaying biases and LayerNorm gains hurts and is conventional
        # to skip.
        decay = [p for p in self._params if p.ndim >= 2]
        no_decay = [p for p in self._params if p.ndim < 2]
        groups = [
            {"params": decay, "weight_decay": self.config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        # Fused AdamW: one kernel per tensor; on CPU about 4x faster than the per-tensor loop
        # for the 22M parameters of the full scope, and just as deterministic.
        return torch.optim.AdamW([g for g in groups if g["params"]], lr=self.config.lr, fused=True)

    def rewarm(self) -> None:
        """Restart the linear learning-rate warm-up (no effect when ``rewarm_steps`` is 0)."""
        self._warm_step = 0

    def reset_optimizer(self) -> None:
        """Forget AdamW's moment estimates, e.g. after a concept change.

        The first moment keeps pushing along the old concept's gradients for ~1/(1-beta1)
        = 10 steps, and the second moment scales updates by the old concept's gradient sizes
        for ~1/(1-beta2) = 1000. Fresh moments make the first steps full ``lr`` steps.
        """
        self._optimizer = self._build_optimizer()

    def training_state(self) -> TrainState:
        """AdamW's moments and the replay buffer, for a checkpoint (``learners._train_state``)."""
        return capture(self._optimizer, self.replay, self.steps)

    def load_training_state(self, state: TrainState) -> int:
        """Resume moments and replay from :meth:`training_state`; all or nothing.

        Returns the number of parameters whose moments were restored. Raises ``ValueError``
        (and changes nothing) when the state does not fit this learner.
        """
        replay = restore_replay(state)
        if replay.capacity != self.config.replay_size:
            raise ValueError(
                f"replay capacity {replay.capacity} differs from {self.config.replay_size}"
            )
        optimizer = self._build_optimizer()
        loaded = restore_optimizer(optimizer, state)
        self._optimizer, self.replay = optimizer, replay
        self.steps = int(state.meta.get("steps", self.steps))
        return loaded

    def clone(self) -> IncrementalLearner:
        """An independent deep copy: model, optimizer state, replay and its generator.

        The tokenizer is shared; it holds no training state.
        """
        return copy.deepcopy(self, memo={id(self.tokenizer): self.tokenizer})

    # --- learning ------------------------------------------------------------------------

    def learn(self, batch: Sequence[Example]) -> StepResult:
        """Learn ``batch`` (plus replay); an empty batch does nothing.

        One optimizer step, or, with ``config.step_examples`` set, steps of at most that
        many new examples, each with its own replay draw. With ``step_examples=8`` a batch
        of 64 moves the model exactly as 8 batches of 8 would (without a per-user cap), so
        the same feedback trains the same model whether it came in a burst or a trickle.
        """
        if not batch:
            return StepResult()
        capped = cap_per_user(batch, self.config.max_user_share)
        new = list(capped.kept)
        added = self._grow_labels(new)
        if self.config.scope == "head":
            new = self._with_embeddings(new)
        size = self.config.step_examples or len(new)
        losses: list[float] = []
        correct: list[bool] = []
        n_replayed = n_steps = 0
        grad_norm: float | None = None
        lr = self.config.lr
        for start in range(0, len(new), size):
            part = new[start : start + size]
            replayed = self.replay.sample(replay_count(len(part), self.config.replay_fraction))
            step_losses, step_correct, grad_norm, lr = self._step([*part, *replayed])
            losses += step_losses[: len(part)]
            correct += step_correct[: len(part)]
            n_replayed += len(replayed)
            self.replay.add(part)
            n_steps += 1
        self.steps += n_steps
        self.examples_seen += len(new)
        return StepResult(
            event_ids=tuple(ex.event_id for ex in new),
            losses=tuple(losses),
            correct=tuple(correct),
            n_replayed=n_replayed,
            n_steps=n_steps,
            dropped_ids=tuple(ex.event_id for ex in capped.dropped),
            labels_added=tuple(added),
            grad_norm=grad_norm,
            lr=lr,
            weight_total=capped.total_weight,
            user_weights=capped.user_weights,
        )

    def _next_lr(self) -> float:
        steps = self.config.rewarm_steps
        scale = min(1.0, (self._warm_step + 1) / steps) if steps > 0 else 1.0
        self._warm_step += 1
        return self.config.lr * scale

    def _step(self, train: list[Example]) -> tuple[list[float], list[bool], float | None, float]:
        index = {label: i for i, label in enumerate(self.model.labels)}
        targets = torch.tensor([index[ex.label] for ex in train], device=self.device)
        weights = torch.tensor([ex.weight for ex in train], device=self.device)
        total = weights.sum()
        lr = self._next_lr()
        for group in self._optimizer.param_groups:
            group["lr"] = lr
        self._optimizer.zero_grad(set_to_none=True)
        losses: list[float] = []
        correct: list[bool] = []
        size = len(train) if self.config.scope == "head" else self.config.micro_batch
        with _deterministic(self.device):
            for start in range(0, len(train), size):
                part = slice(start, start + size)
                with autocast(self.device):
                    logits = self._logits(train[part])
                ce = nn.functional.cross_entropy(logits.float(), targets[part], reduction="none")
                ((ce * weights[part]).sum() / total).backward()
                losses.extend(ce.detach().cpu().tolist())
                correct.extend((logits.argmax(-1) == targets[part]).cpu().tolist())
            grad_norm = None
            if self.config.grad_clip > 0:
                norm = nn.utils.clip_grad_norm_(self._params, self.config.grad_clip)
                grad_norm = float(norm)
            self._optimizer.step()
        return losses, correct, grad_norm, lr

    def _logits(self, examples: Sequence[Example]) -> torch.Tensor:
        if self.config.scope == "head":
            stacked = np.stack([ex.embedding for ex in examples if ex.embedding is not None])
            return self.model.head(torch.from_numpy(stacked).to(self.device))
        texts = [ex.text for ex in examples]
        return self.model(tokenize(self.tokenizer, texts, self.config.max_seq_len, self.device))

    def _usable(self, embedding: np.ndarray | None) -> bool:
        return (
            embedding is not None
            and embedding.shape == (self.model.dim,)
            and bool(np.isfinite(embedding).all())
        )

    def _with_embeddings(self, examples: list[Example]) -> list[Example]:
        """Examples with a usable float32 embedding; missing or malformed ones are recomputed."""
        missing = [i for i, ex in enumerate(examples) if not self._usable(ex.embedding)]
        out = [
            ex
            if ex.embedding is None or ex.embedding.dtype == np.float32
            else replace(ex, embedding=ex.embedding.astype(np.float32))
            for ex in examples
        ]
        if missing:
            computed = self.embed([examples[i].text for i in missing])
            for i, emb in zip(missing, computed, strict=True):
                out[i] = replace(out[i], embedding=emb)
        return out

    def _grow_labels(self, examples: Sequence[Example]) -> list[str]:
        """Add an output row per unseen label, initialised at its examples' mean embedding."""
        new = [lb for lb in dict.fromkeys(ex.label for ex in examples) if lb not in self.labels]
        if not new:
            return []
        rows = torch.zeros(len(new), self.model.dim)
        for i, label in enumerate(new):
            embs = [
                e.embedding
                for e in examples
                if e.label == label and e.embedding is not None and self._usable(e.embedding)
            ]
            if embs:
                mean = torch.from_numpy(np.mean(np.stack(embs), axis=0).astype(np.float32))
                rows[i] = nn.functional.normalize(mean, dim=0)
        return self.add_labels(new, rows)

    def add_labels(self, labels: Sequence[str], rows: torch.Tensor | None = None) -> list[str]:
        """Grow the label set (model and optimizer); returns the labels that were new.

        Existing rows keep their weights and their AdamW moments; ``rows`` initialise the
        new rows, one per distinct label given (zero by default). :meth:`learn` calls this
        for labels it has not seen.
        """
        unique = list(dict.fromkeys(labels))
        new = [label for label in unique if label not in self.labels]
        if not new:
            return []
        if rows is not None:
            if rows.shape != (len(unique), self.model.dim):
                raise ValueError(f"rows must have shape ({len(unique)}, {self.model.dim})")
            rows = rows[[unique.index(label) for label in new]]
        old = list(self.model.head.linear.parameters())
        self.model.add_labels(new, rows)
        self._replace_params(old, list(self.model.head.linear.parameters()))
        return new

    def _replace_params(self, old: list[nn.Parameter], new: list[nn.Parameter]) -> None:
        """Swap grown head parameters into the optimizer, keeping the old rows' moments.

        Old rows keep ``exp_avg``/``exp_avg_sq`` and the step count; the new rows' moments
        start at zero.
        """
        swap = {id(o): n for o, n in zip(old, new, strict=True)}
        for group in self._optimizer.param_groups:
            group["params"] = [swap.get(id(p), p) for p in group["params"]]
        for o, n in zip(old, new, strict=True):
            state = self._optimizer.state.pop(o, None)
            if state:
                for key in ("exp_avg", "exp_avg_sq"):
                    moment = state[key]
                    pad = moment.new_zeros((n.shape[0] - moment.shape[0], *moment.shape[1:]))
                    state[key] = torch.cat([moment, pad])
                self._optimizer.state[n] = state
        self._params = [swap.get(id(p), p) for p in self._params]

    # --- inference -----------------------------------------------------------------------

    @torch.no_grad()
    def embed(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Normalised pooled embeddings of texts (float32), as serving computes them."""
        out: list[np.ndarray] = []
        for start in range(0, len(texts), self.config.micro_batch):
            chunk = texts[start : start + self.config.micro_batch]
            batch = tokenize(self.tokenizer, chunk, self.config.max_seq_len, self.device)
            with autocast(self.device):
                emb = self.model.embed(batch)
            out.extend(emb.float().cpu().numpy())
        return out

    @torch.no_grad()
    def predict_proba(self, inputs: Sequence[str] | np.ndarray) -> np.ndarray:
        """Class probabilities (rows follow :attr:`labels`) for texts or for embeddings.

        A 2-D array is taken as stored embeddings and goes straight to the head.
        """
        if isinstance(inputs, np.ndarray):
            if inputs.ndim != 2 or inputs.shape[1] != self.model.dim:
                raise ValueError(f"embeddings must have shape (n, {self.model.dim})")
            emb = torch.from_numpy(inputs.astype(np.float32)).to(self.device)
        else:
            if not inputs:
                return np.zeros((0, len(self.labels)), dtype=np.float32)
            emb = torch.from_numpy(np.stack(self.embed(inputs))).to(self.device)
        logits = self.model.head(emb).float()
        return torch.softmax(logits, dim=-1).cpu().numpy()


@contextlib.contextmanager
def _deterministic(device: torch.device) -> Iterator[None]:
    """Deterministic kernels during a CPU step; the flag is process-wide, so it is restored.

    CUDA is left alone: its deterministic mode needs a cuBLAS workspace variable set
    before start-up, which a library must not impose.
    """
    if device.type != "cpu":
        yield
        return
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


def replay_count(n_new: int, fraction: float) -> int:
    """Replayed examples to add to ``n_new`` new ones so replay is ``fraction`` of the step.

    Examples
    --------
    >>> replay_count(24, 0.25), replay_count(1, 0.25), replay_count(5, 0.0)
    (8, 1, 0)
    """
    if fraction <= 0 or n_new <= 0:
        return 0
    # At least one, so even a single new example is trained next to an old one.
    return max(1, round(n_new * fraction / (1.0 - fraction)))
