"""Version 0 (zero-shot from label descriptions) and label growth of the classifier."""

from __future__ import annotations

import torch

from learners import build_initial, default_model_path, tokenize


def test_zero_shot_version_zero_and_growth_keeps_old_rows() -> None:
    labels = ["sport", "politics", "technology"]
    model, tok = build_initial(default_model_path(), labels)
    texts = [
        "The striker scored twice in the cup final",
        "Parliament passed the budget bill after a late vote",
        "The new laptop chip doubles battery life",
    ]
    batch = tokenize(tok, texts, 64, torch.device("cpu"))
    with torch.inference_mode():
        before = model(batch)
    assert before.argmax(-1).tolist() == [0, 1, 2]
    emb = model.embed(batch)
    assert torch.allclose(emb.norm(dim=-1), torch.ones(3), atol=1e-5)
    old_rows = model.head.linear.weight.detach().clone()
    assert model.add_labels(["health", "sport"]) == ["health"]
    assert torch.equal(model.head.linear.weight[:3], old_rows)
    with torch.inference_mode():
        after = model(batch)
    assert after.shape == (3, 4)
    # Same weights; a wider matmul may round differently in the last bits.
    assert torch.allclose(after[:, :3], before, atol=1e-5)
    assert model.labels == [*labels, "health"]
