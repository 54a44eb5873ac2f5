"""Fourier shell correlation, resolution from FSC curves, and the FSC <-> CC_ref relations."""
from __future__ import annotations

import numpy as np

from .fourier import Shells


def cov(F1: np.ndarray, F2: np.ndarray, shells: Shells, threads: int = 1) -> np.ndarray:
    """Per-shell covariance: mean over the shell of Re(F1 conj(F2))."""
    return shells.sum_products(F1, F2, threads) / np.maximum(shells.count, 1)


def power(F: np.ndarray, shells: Shells, threads: int = 1) -> np.ndarray:
    """Per-shell mean |F|^2."""
    return shells.sum_products(F, None, threads) / np.maximum(shells.count, 1)


def moments(pairs, shells: Shells, threads: int = 1) -> np.ndarray:
    """Per-shell means of Re(A conj(B)) (|A|^2 for B None) of several (A, B) pairs,
    (len(pairs), n): :func:`cov` / :func:`power` of each, in one pass over the spectra."""
    return shells.sum_products_many(pairs, threads) / np.maximum(shells.count, 1)


def fsc(F1: np.ndarray, F2: np.ndarray, shells: Shells, threads: int = 1) -> np.ndarray:
    """Fourier shell correlation of two half spectra."""
    c12, p1, p2 = moments([(F1, F2), (F1, None), (F2, None)], shells, threads)
    return fsc_from_moments(c12, p1, p2)


def fsc_from_moments(cov12: np.ndarray, power1: np.ndarray, power2: np.ndarray) -> np.ndarray:
    """FSC from per-shell covariance and powers (0 where a power is 0)."""
    d = np.sqrt(power1 * power2)
    return np.where(d > 0, cov12 / np.where(d > 0, d, 1.0), 0.0)


def resolution_at(curve: np.ndarray, shells: Shells, threshold: float,
                  start: int = 1) -> float:
    """Resolution (A) where a curve first falls below ``threshold``, interpolated in s.

    ``start`` skips the origin shell(s).  Returns the Nyquist resolution of the box when the
    curve never falls below the threshold.
    """
    curve = np.asarray(curve)
    below = np.nonzero(curve[start:] < threshold)[0]
    if len(below) == 0:
        return float(1.0 / shells.s[-1])
    i = below[0] + start
    if i == 0:
        return float(1.0 / shells.s[0])
    c0, c1 = curve[i - 1], curve[i]
    t = (c0 - threshold) / (c0 - c1) if c0 != c1 else 0.0
    s = shells.s[i - 1] + t * (shells.s[i] - shells.s[i - 1])
    return float(1.0 / s)


def fsc_ref(half_map_fsc: np.ndarray) -> np.ndarray:
    """CC of the half-map average with the truth from the half-map FSC: sqrt(2 FSC/(1+FSC)).

    Rosenthal & Henderson (2003), J Mol Biol 333:721; negative FSC values give 0.
    """
    f = np.clip(np.asarray(half_map_fsc, dtype=np.float64), 0.0, 1.0)
    return np.sqrt(2.0 * f / (1.0 + f))


def fsc_from_cc(cc: np.ndarray) -> np.ndarray:
    """Equivalent half-map FSC of a CC with the truth, CC^2 / (2 - CC^2) (inverse of fsc_ref)."""
    c2 = np.clip(np.asarray(cc, dtype=np.float64), 0.0, 1.0) ** 2
    return c2 / (2.0 - c2)
