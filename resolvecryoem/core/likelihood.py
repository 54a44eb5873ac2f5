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


# Voxels per piece when evaluating the likelihood: its dozen per-voxel temporaries then take
# a few MB instead of ~60 bytes per voxel of the whole box, and stay in cache.
CHUNK_VOXELS = 1 << 18


def _inverse_variance(var, n):
    """1/var of a target: a scalar, or per voxel (flattened) when var is a map."""
    if np.ndim(var) == 0:
        return np.float32(1.0 / var)
    v = np.asarray(var, np.float32).reshape(-1)
    if v.size != n:
        raise ValueError(f"target variance of {v.size} voxels for a map of {n}")
    return np.float32(1.0) / v


def likelihood_terms(rho: np.ndarray, p_molecule: np.ndarray, solvent: DensityHistogram,
                     molecule: DensityHistogram, target=None, with_g: bool = True,
                     noise_scale=None) -> LikelihoodTerms:
    """g(rho), g'(rho) at every voxel and <g''> (forced negative: histogram likelihoods are
    not log-concave, and a positive curvature would turn the Newton step uphill).

    ``target`` (optional): (tau, var) a target map and its error variance, e.g. the average
    of the symmetry copies; adds P_M(x) ln N(rho; tau, var) in the molecule region.  ``var``
    may be a map (a model target: var / P_model, huge where the target does not apply).
    ``noise_scale`` (optional map s(x)): the solvent's noise is s(x) times that of the solvent
    histogram (made from the normalised map, :func:`masking.normalise_noise`).  g is then the
    log-density of the normalised value rho_w = mu + (rho - mu) / s (mu the solvent mean) and
    g', g'' are derivatives with respect to rho_w: the solvent term is the histogram at rho_w,
    the molecule term the histogram at rho itself times the Jacobian s (the molecule's density
    is not rescaled: where the noise changes near its edge, the edge would shrink into the
    solvent).
    ``with_g=False`` skips g itself (the Newton step needs only g' and <g''>; ``g`` is None).
    Evaluated in pieces of CHUNK_VOXELS voxels; the result does not depend on the piece size.
    """
    rho_f, w_f = rho.reshape(-1), p_molecule.reshape(-1)
    s_f = None if noise_scale is None else noise_scale.reshape(-1)
    mu = np.float32(solvent.mean())
    tau_f, inv_var = (None, None) if target is None else (
        target[0].reshape(-1), _inverse_variance(target[1], rho_f.size))
    shared = np.array_equal(solvent.centres, molecule.centres)
    ts, tm = solvent.tables(), molecule.tables()
    g1_out = np.empty(rho_f.size, np.float32)
    g_out = np.empty(rho_f.size, np.float32) if with_g else None
    sum_g2 = sum_g1sq = 0.0
    for lo in range(0, rho_f.size, CHUNK_VOXELS):
        sl = slice(lo, lo + CHUNK_VOXELS)
        r, w = rho_f[sl], w_f[sl]
        sc = None if s_f is None else s_f[sl]
        rw = r if sc is None else mu + (r - mu) / sc
        ps, ps1, ps2 = solvent.evaluate(
            rw, grid_position(rw, solvent.centres) if shared else None, ts)
        pm, pm1, pm2 = molecule.evaluate(
            r, grid_position(r, molecule.centres) if shared else None, tm)
        if sc is not None:
            # d/drho_w = s d/drho; the density of rho_w is s p_M(rho).
            pm, pm1, pm2 = pm * sc, pm1 * (sc * sc), pm2 * (sc * sc * sc)
        v = 1 - w
        den = w * pm + v * ps
        np.maximum(den, np.float32(1e-30), out=den)
        g1 = (w * pm1 + v * ps1) / den
        g2 = (w * pm2 + v * ps2) / den - g1 * g1
        if with_g:
            g = np.log(den)
        if target is not None:
            iv = inv_var if np.ndim(inv_var) == 0 else inv_var[sl]
            d = (r - tau_f[sl]) * iv
            if with_g:
                g -= w * (r - tau_f[sl]) * d * np.float32(0.5)
            g1 -= w * (d if sc is None else d * sc)
            g2 -= w * (iv if sc is None else sc * sc * iv)
        g1_out[sl] = g1
        if with_g:
            g_out[sl] = g
        sum_g2 += float(np.sum(g2, dtype=np.float64))
        sum_g1sq += float(np.sum(g1 * g1, dtype=np.float64))
    curvature = sum_g2 / max(rho_f.size, 1)
    # Fall back on the Fisher information -<g'^2> when the histogram curvature is not negative.
    fisher = -sum_g1sq / max(rho_f.size, 1)
    if not curvature < 0:
        curvature = fisher if fisher < 0 else -1.0
    return LikelihoodTerms(None if g_out is None else g_out.reshape(rho.shape),
                           g1_out.reshape(rho.shape), curvature)


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
                threads: int = 1, target=None, noise_scale=None):
    """Map-likelihood coefficients of one half map.

    ``F`` is rfftn(rho) (passed in, not recomputed); ``keep`` (half-spectrum shape, 0..1) limits
    the step to |s| <= 1/dm_resolution: the real-space form touches every coefficient, and the
    estimates beyond the density-modification resolution are not trusted.  Returns
    (F_ML, terms); outside ``keep`` F_ML is 0 (no map-phasing information there).
    ``target``: see :func:`likelihood_terms` (symmetry averaging).
    ``noise_scale`` (optional map s(x), :func:`masking.noise_scale`): the noise is not
    stationary; the Newton step is taken in the normalised coordinate rho_w (see
    :func:`likelihood_terms`), rho_w - g'(rho_w) / <g''>, which maps back to
    rho - s g'(rho_w) / <g''>: solvent flipping everywhere, whatever the local noise level.
    """
    terms = likelihood_terms(rho, p_molecule, solvent, molecule, target, with_g=False,
                             noise_scale=noise_scale)
    return newton_step(F, terms, keep, threads, noise_scale), terms


def newton_step(F: np.ndarray, terms: LikelihoodTerms, keep: np.ndarray, threads: int = 1,
                noise_scale=None) -> np.ndarray:
    """F_ML = (F - rfftn(s g') / <g''>) keep (s = 1 without ``noise_scale``): the second half
    of :func:`map_phasing`, for a caller that lets go of the map between the two halves.
    Uses up ``terms.g1`` (scaled in place, transformed, then dropped)."""
    g1 = terms.g1
    terms.g1 = None  # transformed; not kept alive beside the spectra
    if noise_scale is not None:
        g1 *= noise_scale
    step = rfft(g1, threads)
    del g1
    # In place: F_ML = (F + step) keep without two more spectrum-sized temporaries.
    step *= np.float32(-1.0 / terms.curvature)
    step += F
    step *= keep
    return step.astype(np.complex64, copy=False)


def r_value(F_obs: np.ndarray, F_ml: np.ndarray, select: np.ndarray) -> float:
    """R = sum |F_o - k F_ML| / sum |F_o| over the selected coefficients, k the least-squares
    scale of F_ML onto F_o (the definition written in the log; documented range 0.25-0.5)."""
    fo, fm = F_obs[select], F_ml[select]
    k = np.real(np.vdot(fm, fo)) / max(np.real(np.vdot(fm, fm)), 1e-30)
    return float(np.sum(np.abs(fo - k * fm)) / max(np.sum(np.abs(fo)), 1e-30))
