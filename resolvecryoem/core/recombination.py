"""Error model from the four maps and recombination (ALGORITHM.md section 6).

Model, per resolution shell: O_i = S + n_i (starting half maps), D_i = a S + b n_i + m_i + c
(map-phasing half maps; c is an error common to D1 and D2 that flattening introduces).
Only cross terms between different halves are free of shared noise, so

    var S = cov(O1, O2),   a = cov(D1, O2) / cov(O1, O2)   (D1 vs O2 share no error).

The best linear estimate of S from (O, D) is w = Sigma^-1 c with Sigma the covariance of
(O, D) and c = (var S, a var S); its correlation with S is CC_ref = sqrt(w_O + a w_D).
Per half map, (O_i, D_i) gives the density-modified half maps C_i; the full map is the joint
estimate from (mean O, mean D), which never does worse than averaging C1 and C2.  Its accuracy
is computed from the model, not from FSC(C1, C2), which the common error c inflates.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fourier import Shells
from .fsc import cov, power


@dataclass
class Weights:
    """Per-shell weights of original (w_o) and map-phasing (w_d) coefficients, and the CC of
    the weighted sum with the truth."""

    w_o: np.ndarray
    w_d: np.ndarray
    cc_ref: np.ndarray

    def apply(self, O: np.ndarray, D: np.ndarray, shells: Shells) -> np.ndarray:
        return (shells.expand(self.w_o) * O + shells.expand(self.w_d) * D).astype(
            np.complex64, copy=False)


@dataclass
class Recombination:
    C1: np.ndarray
    C2: np.ndarray
    F: np.ndarray
    half: tuple          # (Weights for half 1, Weights for half 2)
    full: Weights        # joint weights for (mean O, mean D)
    var_s: np.ndarray    # per-shell signal variance cov(O1, O2)
    a: np.ndarray        # per-shell signal scale of the map-phasing maps
    trusted: np.ndarray  # shells where the half maps agree beyond noise


# Shell statistics are averaged over this many neighbouring shells on each side before the
# weights are computed: the ratios of covariances are noisy in thin shells, and the weights
# should vary smoothly with resolution.
SMOOTH_SHELLS = 2


def smoothed(values: np.ndarray, shells: Shells, half_width: int = SMOOTH_SHELLS) -> np.ndarray:
    """Count-weighted running mean of a per-shell statistic over +-half_width shells."""
    k = np.ones(2 * half_width + 1)
    num = np.convolve(values * shells.count, k, mode="same")
    den = np.convolve(shells.count, k, mode="same")
    out = num / np.maximum(den, 1)
    out[0] = values[0]  # the origin shell stands alone
    return out


def _stat(fn, X, Y, shells):
    return smoothed(fn(X, Y, shells) if Y is not None else fn(X, shells), shells)


def signal_variance(O1, O2, shells: Shells) -> tuple:
    """var S = cov(O1, O2) per shell, and the shells where it is significant (half-map FSC
    above 2/sqrt(number of coefficients in the smoothing window))."""
    var_s = _stat(cov, O1, O2, shells)
    var_o = 0.5 * (_stat(power, O1, None, shells) + _stat(power, O2, None, shells))
    n_window = np.convolve(shells.count, np.ones(2 * SMOOTH_SHELLS + 1), mode="same")
    significance = 2.0 / np.sqrt(np.maximum(n_window / 2.0, 1.0))
    trusted = var_s > significance * var_o
    # Floor: a noisy or empty shell must not give a zero or negative signal variance.
    floor = np.maximum(significance * var_o, 1e-30)
    return np.maximum(var_s, floor), trusted


def best_linear_weights(var_o, var_d, cov_od, var_s, a, trusted) -> Weights:
    """w = Sigma^-1 (var S, a var S) per shell; w_d = 0 where the shell is not trusted or the
    map-phasing maps carry no signal (a <= 0)."""
    det = var_o * var_d - cov_od ** 2
    use_d = trusted & (a > 0) & (det > 1e-12 * np.maximum(var_o * var_d, 1e-300))
    safe = np.where(use_d, det, 1.0)
    w_o = np.where(use_d, (var_d * var_s - cov_od * a * var_s) / safe,
                   var_s / np.maximum(var_o, 1e-300))
    w_d = np.where(use_d, (var_o * a * var_s - cov_od * var_s) / safe, 0.0)
    w_o = np.where(trusted, w_o, np.clip(var_s / np.maximum(var_o, 1e-300), 0, 1))
    cc2 = np.clip(w_o + a * w_d, 0.0, 1.0)
    # The origin shell is one number, the map's mean: keep the original's.
    w_o[0], w_d[0], cc2[0] = 1.0, 0.0, 1.0
    return Weights(w_o, w_d, np.sqrt(cc2))


def half_weights(O_i, O_j, D_i, shells: Shells) -> Weights:
    """Weights for one half map from its own O_i and D_i and the OTHER original half O_j.

    Needs nothing of the other half's density modification, so both halves can be processed
    independently (and in parallel) in every cycle.
    """
    var_s, trusted = signal_variance(O_i, O_j, shells)
    a = _stat(cov, D_i, O_j, shells) / var_s
    return best_linear_weights(_stat(power, O_i, None, shells), _stat(power, D_i, None, shells),
                               _stat(cov, O_i, D_i, shells), var_s, a, trusted)


def recombine(O1, O2, D1, D2, shells: Shells, full_map=None) -> Recombination:
    """Recombine the four maps: per-half maps C1, C2 and the joint full map F.

    ``full_map`` (optional spectrum): recombined with the map-phasing maps in place of the
    half-map average.  Its signal is assumed to be on the scale of the average (it is first
    scaled per shell to the average's covariance with the half maps) and its error no larger.
    """
    var_s, trusted = signal_variance(O1, O2, shells)
    a = 0.5 * (_stat(cov, D1, O2, shells) + _stat(cov, D2, O1, shells)) / var_s
    w1 = half_weights(O1, O2, D1, shells)
    w2 = half_weights(O2, O1, D2, shells)
    C1 = w1.apply(O1, D1, shells)
    C2 = w2.apply(O2, D2, shells)

    O = 0.5 * (O1 + O2)
    D = 0.5 * (D1 + D2)
    if full_map is not None:
        # Bring the full map's signal onto the average's scale shell by shell.
        k = _stat(cov, O, full_map, shells) / np.maximum(_stat(power, full_map, None, shells),
                                                          1e-300)
        k = np.where(k > 0, k, 0.0)
        O = (shells.expand(k) * full_map).astype(np.complex64)
    full = best_linear_weights(_stat(power, O, None, shells), _stat(power, D, None, shells),
                               _stat(cov, O, D, shells), var_s, a, trusted)
    F = full.apply(O, D, shells)
    return Recombination(C1, C2, F, (w1, w2), full, var_s, a, trusted)
