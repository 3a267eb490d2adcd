"""The drift monitor's configuration: which detector runs on which signal, with what parameters."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from learners.drift._registry import make_detector

#: The signals a monitor watches: the 0/1 error of a prediction once its feedback
#: arrives, the per-example training loss, and two label-free input statistics.
Signal = Literal["error", "loss", "confidence", "embedding_distance"]
SIGNALS: tuple[Signal, ...] = get_args(Signal)

Param = float | int | str | bool


class DetectorSpec(BaseModel):
    """One detector on one signal.

    ``params`` are the detector's keyword arguments (see each detector class), for
    example ``{"delta": 0.002, "warm_up": 100}``. The spec is checked by building
    the detector once, so a bad kind or parameter fails at configuration time.

    Examples
    --------
    >>> DetectorSpec(name="error_ddm", signal="error", kind="ddm").params
    {}
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    signal: Signal
    kind: str
    params: dict[str, Param] = Field(default_factory=dict)

    @field_validator("params")
    @classmethod
    def _buildable(cls, params: dict[str, Param], info: ValidationInfo) -> dict[str, Param]:
        kind = info.data.get("kind")  # absent if the kind itself failed validation
        if kind is not None:
            try:
                make_detector(kind, params)
            except TypeError as error:  # pydantic reports only ValueError/AssertionError
                raise ValueError(str(error)) from None
        return params

    @field_validator("kind")
    @classmethod
    def _registered(cls, kind: str) -> str:
        make_detector(kind)
        return kind


#: The default detectors, one per signal; DDM is available as ``kind="ddm"``.
DEFAULT_DETECTORS: tuple[DetectorSpec, ...] = (
    DetectorSpec(name="error_adwin", signal="error", kind="adwin"),
    DetectorSpec(name="loss_page_hinkley", signal="loss", kind="page_hinkley"),
    DetectorSpec(name="confidence_kswin", signal="confidence", kind="kswin"),
    DetectorSpec(name="embedding_kswin", signal="embedding_distance", kind="kswin"),
)


class DriftConfig(BaseModel):
    """Configuration of a :class:`~learners.drift.DriftMonitor`.

    Parameters
    ----------
    detectors
        The detectors, with unique names (the name is the alert's ``detector``).
    reference_size
        Embeddings forming the reference window of the ``embedding_distance`` signal.
    value_window
        An event's ``value`` is the signal's mean over this many recent observations.

    Examples
    --------
    >>> config = DriftConfig(detectors=(
    ...     DetectorSpec(name="error_adwin", signal="error", kind="adwin", params={"warm_up": 100}),
    ...     DetectorSpec(name="error_ddm", signal="error", kind="ddm"),
    ... ))
    >>> [d.name for d in config.detectors if d.signal == "error"]
    ['error_adwin', 'error_ddm']
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    detectors: tuple[DetectorSpec, ...] = DEFAULT_DETECTORS
    reference_size: int = Field(default=200, ge=1)
    value_window: int = Field(default=50, ge=1)

    @field_validator("detectors")
    @classmethod
    def _unique(cls, detectors: tuple[DetectorSpec, ...]) -> tuple[DetectorSpec, ...]:
        names = [d.name for d in detectors]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate detector names: {duplicates}")
        return detectors


def config_for(json_text: str, signals: tuple[Signal, ...]) -> DriftConfig:
    """A configuration from JSON (empty: the defaults), keeping the detectors on ``signals``.

    Examples
    --------
    >>> [d.name for d in config_for("", ("error", "loss")).detectors]
    ['error_adwin', 'loss_page_hinkley']
    """
    config = DriftConfig.model_validate_json(json_text) if json_text.strip() else DriftConfig()
    kept = tuple(d for d in config.detectors if d.signal in signals)
    return config.model_copy(update={"detectors": kept})
