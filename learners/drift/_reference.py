"""Distance of each input embedding to a reference window: a label-free input statistic."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


class ReferenceDistance:
    """Cosine distance of each embedding to the centroid of a reference window.

    The first ``reference_size`` embeddings after construction (or :meth:`reset`)
    form the reference; from then on each embedding is mapped to ``1 - cos(x, c)``
    where ``c`` is the reference centroid. A shift of the input distribution (new
    topics, another language) moves these distances, which a detector such as KSWIN
    then catches without any label. Reset it when a new version starts serving if
    the reference should follow the model.

    Parameters
    ----------
    reference_size
        Number of embeddings that form the reference window.

    Examples
    --------
    >>> ref = ReferenceDistance(reference_size=2)
    >>> ref.distance([1.0, 0.0]) is None, ref.distance([1.0, 0.0]) is None
    (True, True)
    >>> round(ref.distance([0.0, 1.0]), 6)
    1.0
    """

    def __init__(self, reference_size: int = 200) -> None:
        if reference_size < 1:
            raise ValueError(f"reference_size must be >= 1, got {reference_size}")
        self.reference_size = reference_size
        self.reset()

    def reset(self) -> None:
        """Forget the reference; the next ``reference_size`` embeddings form a new one."""
        self._sum: NDArray[np.float64] | None = None
        self._count = 0
        self._centroid: NDArray[np.float64] | None = None

    @property
    def ready(self) -> bool:
        """Whether the reference window is complete."""
        return self._centroid is not None

    def distance(self, embedding: ArrayLike) -> float | None:
        """The embedding's distance to the reference, or ``None`` while the reference fills.

        Raises
        ------
        ValueError
            If the embedding is not a finite non-zero vector of the reference's size.
        """
        x = np.asarray(embedding, dtype=np.float64).reshape(-1)
        norm = float(np.linalg.norm(x))
        if not np.isfinite(x).all() or norm == 0.0:
            raise ValueError("embedding must be a finite non-zero vector")
        if self._sum is not None and x.shape != self._sum.shape:
            raise ValueError(f"embedding has size {x.size}, the reference {self._sum.size}")
        unit = x / norm
        if self._centroid is not None:
            return float(1.0 - unit @ self._centroid)
        self._sum = unit.copy() if self._sum is None else self._sum + unit
        self._count += 1
        if self._count == self.reference_size:
            centroid_norm = float(np.linalg.norm(self._sum))
            # Opposite embeddings can cancel out; any direction is then as good a centroid.
            self._centroid = self._sum / centroid_norm if centroid_norm > 0 else unit
        return None
