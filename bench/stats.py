"""Percentiles and ratios: the pure arithmetic of the figures."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile, fraction in (0, 1]: the least sample with that share of them at or below."""
    if not samples:
        raise ValueError("no samples")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction {fraction} not in (0, 1]")
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def median(samples: Sequence[float]) -> float:
    ordered = sorted(samples)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def ratio(measured: float, baseline: float) -> float:
    return round(measured / baseline, 3)


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def paired_ratio(measured: Sequence[float], baseline: Sequence[float]) -> float:
    """The median of the ratios of samples taken side by side (the i-th of each, in the same round)."""
    if len(measured) != len(baseline):
        raise ValueError(f"{len(measured)} samples against {len(baseline)}")
    return round(median([value / base for value, base in zip(measured, baseline, strict=True)]), 3)
