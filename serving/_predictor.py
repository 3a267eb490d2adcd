"""One loaded model version, ready to predict: tokenizer, classifier, version, device."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from learners import TextClassifier, autocast, tokenize


@dataclass(frozen=True, slots=True)
class BatchOutput:
    """What one forward pass gives, as numpy arrays (row per text)."""

    label_names: list[str]  # column order of ``probabilities``
    labels: list[str]  # predicted label per row
    probabilities: np.ndarray  # (n, n_labels)
    embeddings: np.ndarray  # (n, dim), L2-normalised


class Predictor:
    """A model version in inference mode. Immutable once built, so a swap is one assignment."""

    def __init__(
        self,
        model: TextClassifier,
        tokenizer: PreTrainedTokenizerBase,
        *,
        version: int,
        device: torch.device,
        max_len: int,
        sha256: str | None = None,
    ) -> None:
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.version = version
        self.device = device
        self.max_len = max_len
        self.sha256 = sha256

    @property
    def label_names(self) -> list[str]:
        """The label set, in output order."""
        return list(self.model.labels)

    @torch.inference_mode()
    def predict(self, texts: Sequence[str]) -> BatchOutput:
        """Classify a batch of texts."""
        if not texts:
            dim = self.model.dim
            empty = np.zeros((0, len(self.model.labels)))
            return BatchOutput(self.label_names, [], empty, np.zeros((0, dim)))
        batch = tokenize(self.tokenizer, texts, self.max_len, self.device)
        with autocast(self.device):
            emb = self.model.embed(batch)
            logits = self.model.head(emb)
        probs = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        names = self.model.labels
        return BatchOutput(
            label_names=list(names),
            labels=[names[i] for i in probs.argmax(axis=1)],
            probabilities=probs,
            embeddings=emb.float().cpu().numpy(),
        )
