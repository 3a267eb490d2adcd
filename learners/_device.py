"""Device choice and mixed precision: CUDA gets bf16 autocast, CPU stays fp32."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal

import torch


def select_device(preference: Literal["auto", "cpu", "cuda"] = "auto") -> torch.device:
    """Resolve a device preference; ``auto`` takes CUDA when one is present.

    Examples
    --------
    >>> select_device("cpu").type
    'cpu'
    """
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but torch sees no CUDA device")
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(preference)


@contextlib.contextmanager
def autocast(device: torch.device) -> Iterator[None]:
    """bf16 autocast on CUDA; a no-op on CPU, where fp32 is both faster and exact.

    Examples
    --------
    >>> with autocast(torch.device("cpu")):
    ...     (torch.ones(2) * 2).dtype
    torch.float32
    """
    if device.type == "cuda":
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            yield
    else:
        yield
