"""Local sharpening: the final map weighted, band by band, by the local quality of the map.

For each resolution band the two ORIGINAL half maps (independent errors) give a local
half-map correlation in a sphere around every voxel, cc_b(x) = <o1 o2> / sqrt(<o1^2><o2^2>)
(band-passed maps, sphere averages by FFT).  The band of the final map is then weighted by
FSC_ref(cc_b(x)) / FSC_ref(cc_b) (local over global), so regions that are worse than the map
as a whole lose their noisy high-resolution bands and better regions keep them.  The local
resolution (A) is the finest band whose local correlation stays above 0.143.
"""
from __future__ import annotations

import numpy as np

from .fourier import Shells, irfft
from .fsc import fsc_ref
from .masking import smooth

N_BANDS = 8


def _bands(shells: Shells, resolution_A: float):
    """Band edges in s (1/A): from 1/(3 d) to Nyquist, finer bands at high resolution."""
    s_lo = 1.0 / (3.0 * resolution_A)
    s_hi = float(shells.s[-1])
    edges = np.concatenate([[0.0], np.linspace(s_lo, s_hi, N_BANDS)[:-1], [np.inf]])
    return list(zip(edges[:-1], edges[1:]))


def local_weighting(spectra: list, O1: np.ndarray, O2: np.ndarray, shells: Shells,
                    resolution_A: float, threads: int = 1):
    """([locally weighted map of each spectrum (real space, float32)], local resolution map
    in A).  The band weights come from the two original half maps and are the same for every
    spectrum, so weighting each delivered half map and their average agree."""
    shape = shells.shape
    radius = 2.5 * resolution_A
    out = [np.zeros(shape, np.float32) for _ in spectra]
    local_res = np.full(shape, np.inf, np.float32)
    s_grid = shells.s_grid  # made once, not per band
    for lo, hi in _bands(shells, resolution_A):
        band = ((s_grid >= lo) & (s_grid < hi)).astype(np.float32)
        weight = np.float32(1.0)
        if lo > 0.0:  # the lowest band is good everywhere: no local weighting
            o1 = irfft(O1 * band, shape, threads)
            o2 = irfft(O2 * band, shape, threads)
            c12 = smooth(o1 * o2, shells, radius, threads)
            p1 = np.maximum(smooth(o1 * o1, shells, radius, threads), 1e-30)
            p2 = np.maximum(smooth(o2 * o2, shells, radius, threads), 1e-30)
            cc_local = np.clip(c12 / np.sqrt(p1 * p2), 0.0, 1.0)
            cc_global = float(np.clip(np.sum(o1 * o2) / np.sqrt(np.sum(o1 * o1) *
                                                                 np.sum(o2 * o2)), 0.0, 1.0))
            ref_global = max(float(fsc_ref(np.array([cc_global]))[0]), 1e-3)
            weight = np.minimum(fsc_ref(cc_local) / ref_global, 3.0).astype(np.float32)
            d_band = 1.0 / max(lo, 1e-6)
            local_res = np.where(cc_local > 0.143, np.minimum(local_res, d_band), local_res)
        for o, F in zip(out, spectra):
            o += irfft(F * band, shape, threads) * weight
    local_res[~np.isfinite(local_res)] = 3.0 * resolution_A
    return out, local_res
