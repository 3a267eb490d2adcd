"""Trainable scopes: which parameters of a :class:`TextClassifier` an update may move."""

from __future__ import annotations

from typing import Literal

from torch import nn

from learners._model import TextClassifier

Scope = Literal["head", "top_k", "full"]
SCOPES: tuple[Scope, ...] = ("head", "top_k", "full")


def trainable_modules(model: TextClassifier, scope: Scope, top_k: int) -> list[nn.Module]:
    """The modules a scope trains: the head, plus the last ``top_k`` layers, or everything."""
    if scope == "head":
        return [model.head]
    if scope == "full":
        return [model]
    if scope == "top_k":
        layers = model.encoder.encoder.layer
        if not 1 <= top_k <= len(layers):
            raise ValueError(f"top_k must lie in [1, {len(layers)}], got {top_k}")
        return [*layers[len(layers) - top_k :], model.head]
    raise ValueError(f"unknown scope {scope!r}; valid scopes are: {', '.join(SCOPES)}")


def apply_scope(model: TextClassifier, scope: Scope, top_k: int) -> list[nn.Parameter]:
    """Freeze everything outside the scope; returns the trainable parameters in model order.

    Frozen parameters get ``requires_grad=False``, so autograd records no graph for the
    frozen lower layers of ``top_k`` and a ``head`` step never touches the encoder.
    """
    modules = trainable_modules(model, scope, top_k)
    keep = {id(p) for m in modules for p in m.parameters()}
    params = []
    for p in model.parameters():
        p.requires_grad_(id(p) in keep)
        if id(p) in keep:
            params.append(p)
    return params
