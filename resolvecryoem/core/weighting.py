"""Optional local weightings of the final map: real-space weighting and sigma weighting.

Both act on each delivered half map (the full map is their average), from that half's own maps
and smooth or per-shell quantities, so the resolution and verdict of the delivered maps still
come from independent comparisons.

real_space_weighting - the original average and the recombined map are both estimates of the
true map; where (in space) one is noisier than the other, weight it down.  Local noise
variances come from the smoothed squared differences of their half maps: var of a half-map
average = <(x1 - x2)^2> / 4.  Weight of the recombined map: w = s_O^2 / (s_O^2 + s_F^2).

sigma_weighting - per Fourier coefficient of a half map, the disagreement of its two estimates
(original, and map-phasing brought to the signal scale by 1/a) measures that coefficient's
own error; it is weighted by S / (S + var_h / 2), normalised per shell, with S the shell's
signal variance.
"""
from __future__ import annotations

import numpy as np

from .fourier import Shells, irfft, rfft
from .masking import smooth


def _wiener_original(O, var_s, shells: Shells):
    """The original map as a best linear estimate of the signal on its own: O var S / var O."""
    var_o = shells.mean(O.real ** 2 + O.imag ** 2)
    return O * shells.expand(np.clip(var_s / np.maximum(var_o, 1e-30), 0, 1))


def real_space_weighting(H, O, var_s, shells: Shells, radius_A: float,
                         threads: int = 1) -> list:
    """Half-map spectra H = (H1, H2) locally mixed with the Wiener-filtered originals O.

    The local weight of the recombined maps, w = s_O^2 / (s_O^2 + s_H^2), comes from the
    smoothed squared differences of the two halves (a smooth, per-region quantity) and is the
    same for both halves, so each delivered half map stays a map of its own half's data.
    """
    shape = shells.shape
    Ow = [_wiener_original(o, var_s, shells) for o in O]
    o_diff = irfft(Ow[0] - Ow[1], shape, threads)
    h_diff = irfft(H[0] - H[1], shape, threads)
    var_o = np.maximum(smooth(o_diff * o_diff, shells, radius_A, threads), 0) / 4
    var_h = np.maximum(smooth(h_diff * h_diff, shells, radius_A, threads), 0) / 4
    w = var_o / np.maximum(var_o + var_h, 1e-30)
    return [rfft(w * irfft(h, shape, threads) + (1 - w) * irfft(o, shape, threads), threads)
            for h, o in zip(H, Ow)]


def sigma_weights(O, D, a, var_s, shells: Shells) -> np.ndarray:
    """Per-coefficient weights of one half map from the agreement of its own two estimates
    of each coefficient, the original O and the map-phasing D / a (brought to the signal
    scale): var_h = |O - D/a|^2 / 2, the variance of their mean var_h / 2, weight
    S / (S + var_h / 2) normalised per shell, S the shell's signal variance.  Made from one
    half map only, so the delivered half maps stay independent."""
    inv_a = shells.expand(np.where(a > 0.05, 1.0 / np.maximum(a, 0.05), 0.0))
    d = O - D * inv_a
    var = 0.5 * (d.real ** 2 + d.imag ** 2)
    S = shells.expand(np.maximum(var_s, 1e-30))
    w = S / (S + var / 2)
    norm = shells.expand(np.maximum(shells.mean(w), 1e-6))
    return (w / norm).astype(np.float32)
