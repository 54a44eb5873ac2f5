"""Optional local weightings of the final map: real-space weighting and sigma weighting.

Both act after recombination and may add correlation between the half maps, so the
resolution estimates are taken before them (as the reference program does).

real_space_weighting - the original average and the recombined map are both estimates of the
true map; where (in space) one is noisier than the other, weight it down.  Local noise
variances come from the smoothed squared differences of their half maps: var of a half-map
average = <(x1 - x2)^2> / 4.  Weight of the recombined map: w = s_O^2 / (s_O^2 + s_F^2).

sigma_weighting - per Fourier coefficient, the spread of the four maps' estimates of it
(originals, and map-phasing maps brought to the signal scale by 1/a) measures that
coefficient's own error; F_h is weighted by S / (S + var_h / 4), normalised per shell, with S
the shell's signal variance.
"""
from __future__ import annotations

import numpy as np

from .fourier import Shells, irfft, rfft
from .masking import smooth


def _wiener_original(O, var_s, shells: Shells):
    """The original map as a best linear estimate of the signal on its own: O var S / var O."""
    var_o = shells.mean(O.real ** 2 + O.imag ** 2)
    return O * shells.expand(np.clip(var_s / np.maximum(var_o, 1e-30), 0, 1))


def real_space_weighting(F, C1, C2, O1, O2, var_s, shells: Shells, radius_A: float,
                         threads: int = 1) -> np.ndarray:
    """Spectrum of the locally weighted mix of the recombined map F and the original average."""
    shape = shells.shape
    Ow1, Ow2 = _wiener_original(O1, var_s, shells), _wiener_original(O2, var_s, shells)
    o_diff = irfft(Ow1 - Ow2, shape, threads)
    c_diff = irfft(C1 - C2, shape, threads)
    var_o = np.maximum(smooth(o_diff * o_diff, shells, radius_A, threads), 0) / 4
    var_f = np.maximum(smooth(c_diff * c_diff, shells, radius_A, threads), 0) / 4
    w = var_o / np.maximum(var_o + var_f, 1e-30)
    f_map = irfft(F, shape, threads)
    o_map = irfft(0.5 * (Ow1 + Ow2), shape, threads)
    return rfft(w * f_map + (1 - w) * o_map, threads)


def sigma_weighting(F, O1, O2, D1, D2, a, var_s, shells: Shells) -> np.ndarray:
    """F with each coefficient weighted by its agreement among the four maps."""
    inv_a = shells.expand(np.where(a > 0.05, 1.0 / np.maximum(a, 0.05), 0.0))
    maps = [O1, O2, D1 * inv_a, D2 * inv_a]
    mean = sum(maps) / 4
    var = sum((m.real - mean.real) ** 2 + (m.imag - mean.imag) ** 2 for m in maps) / 3
    S = shells.expand(np.maximum(var_s, 1e-30))
    w = S / (S + var / 4)
    norm = shells.expand(np.maximum(shells.mean(w), 1e-6))
    return (F * (w / norm)).astype(np.complex64)
