"""Solvent masks from local rms density (ALGORITHM.md section 4)."""
from __future__ import annotations

import numpy as np

from .fourier import Shells, irfft, rfft


def sphere_kernel_spectrum(shells: Shells, radius_A: float) -> np.ndarray:
    """Half spectrum of a normalised solid sphere of radius ``radius_A`` centred at the origin.

    Analytic transform of a ball: 3 (sin x - x cos x) / x^3 with x = 2 pi s R, so no kernel
    map and no extra FFT are needed.
    """
    out = np.empty(shells.s_grid.shape, np.float32)
    for sl in shells.slabs():  # float64 for the cancellation near x = 0, a slab at a time
        x = (2.0 * np.pi * radius_A) * shells.s_grid[sl].astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[sl] = np.where(x > 1e-6, 3.0 * (np.sin(x) - x * np.cos(x)) / x ** 3, 1.0)
    return out


def smooth(rho: np.ndarray, shells: Shells, radius_A: float, threads: int = 1) -> np.ndarray:
    """Average of a map over a sphere of ``radius_A`` around each voxel (periodic, by FFT)."""
    F = rfft(rho, threads)
    F *= sphere_kernel_spectrum(shells, radius_A)
    return irfft(F, rho.shape, threads, overwrite=True)


def local_rms(rho: np.ndarray, shells: Shells, radius_A: float, threads: int = 1) -> np.ndarray:
    """sqrt of the sphere-averaged (rho - mean)^2: high in the molecule, low in flat solvent."""
    d = rho - np.float32(rho.mean(dtype=np.float64))
    d *= d
    out = smooth(d, shells, radius_A, threads)
    del d
    np.maximum(out, 0.0, out=out)
    return np.sqrt(out, out=out)


def probabilistic_mask(lrms: np.ndarray, solvent_fraction: float,
                       softness: float = 0.5) -> np.ndarray:
    """P(molecule) at each voxel from a local-rms map (float32, 0..1).

    The threshold t keeps (1 - solvent_fraction) of the box as molecule; the probability is a
    logistic in ln(lrms / t) whose width is ``softness`` x the spread (interquartile range /
    1.35) of ln(lrms) in the solvent region, so voxels near the boundary are uncertain rather
    than forced into one region.  The mask is then shifted so that its mean equals
    1 - solvent_fraction exactly (the molecular volume is known, the boundary is not).
    """
    f = float(np.clip(solvent_fraction, 0.01, 0.99))
    ln = np.maximum(lrms, np.float32(1e-30))
    np.log(ln, out=ln)
    t = np.quantile(ln, f)
    below = ln[ln <= t]
    q1, q3 = np.quantile(below, [0.25, 0.75]) if below.size else (t - 1, t)
    del below
    width = max(softness * (q3 - q1) / 1.35, 1e-6)
    z = ln
    z -= t
    z /= width
    # Shift the logistic so that the mean matches the molecular fraction (bisection on a
    # regular subsample of z: the mean of ~2e5 voxels is accurate to ~1e-3).
    zs = z.ravel()[:: max(1, z.size // 200_000)]
    lo, hi = -20.0, 20.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        m = np.mean(_logistic(zs + mid), dtype=np.float64)
        if m < 1.0 - f:
            lo = mid
        else:
            hi = mid
    z += 0.5 * (lo + hi)
    # _logistic in place (z is ours): no four more box-sized temporaries
    np.clip(z, -60, 60, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    z += 1.0
    np.divide(1.0, z, out=z)
    return z.astype(np.float32, copy=False)


def _logistic(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


def mask_from_file(mask: np.ndarray, shells: Shells, resolution_A: float,
                   threads: int = 1) -> np.ndarray:
    """P(molecule) from a user mask (1 = molecule): clipped to 0..1 and softened over
    ~resolution/2 so that its edge does not ring in Fourier space."""
    m = np.clip(mask.astype(np.float32), 0.0, 1.0)
    return np.clip(smooth(m, shells, 0.5 * resolution_A, threads), 0.0, 1.0)
