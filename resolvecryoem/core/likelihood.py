"""Map-likelihood phasing of one half map (ALGORITHM.md section 5).

LL(map) = sum_x g(rho(x)),  g = ln[ P_M(x) p_M(rho) + (1 - P_M(x)) p_S(rho) ].

The gradient of LL with respect to all Fourier coefficients is one FFT of g'(rho), and a
Newton step with the box-averaged curvature <g''> gives the map-likelihood estimate of every
coefficient at once:

    F_ML = F - rfftn(g'(rho)) / <g''>,   i.e.  rho_ML = rho - g'(rho) / <g''>.

With a Gaussian solvent histogram and a flat molecule histogram this is solvent flipping,
whose estimate of each coefficient does not depend on that coefficient itself (the first-order
"gamma" correction of Terwilliger, Acta D56:965 (2000) / D57:1763 (2001)).  The molecule
histogram is what map-likelihood phasing adds beyond flipping.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fourier import half_spectrum_multiplicity, rfft
from .histograms import DensityHistogram, grid_position


@dataclass
class LikelihoodTerms:
    """Per-voxel g, g' and the box-averaged curvature <g''> used for the Newton step."""

    g: np.ndarray
    g1: np.ndarray
    curvature: float
    # With a local target: per-voxel curvature (<g''> of the histograms + the target's own
    # -P_M / var at the voxel), used for the Newton step in place of the box average.
    local_curvature: np.ndarray | None = None


def likelihood_terms(rho: np.ndarray, p_molecule: np.ndarray, solvent: DensityHistogram,
                     molecule: DensityHistogram, target=None,
                     local_target: bool = False) -> LikelihoodTerms:
    """g(rho), g'(rho) at every voxel and <g''> (forced negative: histogram likelihoods are
    not log-concave, and a positive curvature would turn the Newton step uphill).

    ``target`` (optional): (tau, var) a target map and its error variance, e.g. the average
    of the symmetry copies; adds P_M(x) ln N(rho; tau, var) in the molecule region.  ``var``
    may be a map (a model target: large where the target does not apply).
    ``local_target``: the target's curvature -P_M/var(x) stays local (Newton step per voxel
    with curvature <g''_histograms> - P_M/var(x)) instead of entering the box average: a
    target confined to part of the box (a model) would otherwise overshoot where it is
    confident and do nothing elsewhere.  For a Gaussian target the step then gives the
    precision-weighted mean of the map (precision -<g''_histograms>) and the target.
    """
    where = grid_position(rho, solvent.centres) \
        if np.array_equal(solvent.centres, molecule.centres) else None
    ps, ps1, ps2 = solvent.evaluate(rho, where)
    pm, pm1, pm2 = molecule.evaluate(rho, where)
    w = p_molecule
    den = w * pm + (1 - w) * ps
    den = np.maximum(den, np.float32(1e-30))
    g1 = (w * pm1 + (1 - w) * ps1) / den
    g2 = (w * pm2 + (1 - w) * ps2) / den - g1 * g1
    g = np.log(den)
    local = None
    if target is not None and local_target:
        curvature = _box_curvature(g1, g2)
        tau, var = target
        inv = (np.float32(1.0) / np.asarray(var, np.float32)).astype(np.float32)
        d = (rho - tau) * inv
        g = g - w * (rho - tau) * d * np.float32(0.5)
        g1 = g1 - w * d
        local = (np.float32(curvature) - w * inv).astype(np.float32)
        return LikelihoodTerms(g, g1, curvature, local)
    if target is not None:
        tau, var = target
        d = (rho - tau) * np.float32(1.0 / var)
        g = g - w * (rho - tau) * d * np.float32(0.5)
        g1 = g1 - w * d
        g2 = g2 - w * np.float32(1.0 / var)
    return LikelihoodTerms(g, g1, _box_curvature(g1, g2))


def _box_curvature(g1, g2) -> float:
    curvature = float(np.mean(g2, dtype=np.float64))
    # Fall back on the Fisher information -<g'^2> when the histogram curvature is not negative.
    fisher = -float(np.mean(g1 * g1, dtype=np.float64))
    if not curvature < 0:
        curvature = fisher if fisher < 0 else -1.0
    return curvature


def log_likelihood(rho, p_molecule, solvent, molecule, target=None) -> float:
    """LL(map) = sum_x g(rho(x))."""
    return float(np.sum(likelihood_terms(rho, p_molecule, solvent, molecule, target).g,
                        dtype=np.float64))


def gradient(rho: np.ndarray, terms: LikelihoodTerms, threads: int = 1) -> np.ndarray:
    """dLL/dA_h + i dLL/dB_h for every stored coefficient of F = rfftn(rho).

    (2/N) rfftn(g')_h for 0 < kx < N/2 and (1/N) rfftn(g')_h on the kx = 0 and kx = N/2
    planes, whose coefficients are not stored twice (derived in ALGORITHM.md section 5;
    checked by finite differences in the tests).
    """
    G = rfft(terms.g1, threads)
    return G * (half_spectrum_multiplicity(rho.shape) / rho.size)


def map_phasing(F: np.ndarray, rho: np.ndarray, p_molecule: np.ndarray,
                solvent: DensityHistogram, molecule: DensityHistogram, keep: np.ndarray,
                threads: int = 1, target=None, local_target: bool = False):
    """Map-likelihood coefficients of one half map.

    ``F`` is rfftn(rho) (passed in, not recomputed); ``keep`` (half-spectrum shape, 0..1) limits
    the step to |s| <= 1/dm_resolution: the real-space form touches every coefficient, and the
    estimates beyond the density-modification resolution are not trusted.  Returns
    (F_ML, terms); outside ``keep`` F_ML is 0 (no map-phasing information there).
    ``target``, ``local_target``: see :func:`likelihood_terms` (symmetry averaging, models).
    """
    terms = likelihood_terms(rho, p_molecule, solvent, molecule, target, local_target)
    if terms.local_curvature is not None:
        step = rfft(terms.g1 / -terms.local_curvature, threads)
    else:
        step = rfft(terms.g1, threads)
        step *= np.float32(-1.0 / terms.curvature)
    return ((F + step) * keep).astype(np.complex64, copy=False), terms


def r_value(F_obs: np.ndarray, F_ml: np.ndarray, select: np.ndarray) -> float:
    """R = sum |F_o - k F_ML| / sum |F_o| over the selected coefficients, k the least-squares
    scale of F_ML onto F_o (the definition written in the log; documented range 0.25-0.5)."""
    fo, fm = F_obs[select], F_ml[select]
    k = np.real(np.vdot(fm, fo)) / max(np.real(np.vdot(fm, fm)), 1e-30)
    return float(np.sum(np.abs(fo - k * fm)) / max(np.sum(np.abs(fo)), 1e-30))
