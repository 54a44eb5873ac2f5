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


def likelihood_terms(rho: np.ndarray, p_molecule: np.ndarray, solvent: DensityHistogram,
                     molecule: DensityHistogram, target=None, noise_scale=None
                     ) -> LikelihoodTerms:
    """g(rho), g'(rho) at every voxel and <g''> (forced negative: histogram likelihoods are
    not log-concave, and a positive curvature would turn the Newton step uphill).

    ``target`` (optional): (tau, var) a target map and its error variance, e.g. the average
    of the symmetry copies; adds P_M(x) ln N(rho; tau, var) in the molecule region.
    ``noise_scale`` (optional map s(x)): the solvent's noise is s(x) times that of the solvent
    histogram (made from the normalised map, :func:`masking.normalise_noise`).  g is then the
    log-density of the normalised value rho_w = mu + (rho - mu) / s (mu the solvent mean) and
    g', g'' are derivatives with respect to rho_w: the solvent term is the histogram at rho_w,
    the molecule term the histogram at rho itself times the Jacobian s (the molecule's density
    is not rescaled: where the noise changes near its edge, the edge would shrink into the
    solvent).
    """
    s = noise_scale
    rho_w = rho if s is None else np.float32(solvent.mean()) + (
        rho - np.float32(solvent.mean())) / s
    same = np.array_equal(solvent.centres, molecule.centres)
    ps, ps1, ps2 = solvent.evaluate(rho_w, grid_position(rho_w, solvent.centres)
                                    if same else None)
    pm, pm1, pm2 = molecule.evaluate(rho, grid_position(rho, molecule.centres)
                                     if same else None)
    if s is not None:
        # d/drho_w = s d/drho; the density of rho_w is s p_M(rho).
        pm, pm1, pm2 = pm * s, pm1 * (s * s), pm2 * (s * s * s)
    w = p_molecule
    den = w * pm + (1 - w) * ps
    den = np.maximum(den, np.float32(1e-30))
    g1 = (w * pm1 + (1 - w) * ps1) / den
    g2 = (w * pm2 + (1 - w) * ps2) / den - g1 * g1
    g = np.log(den)
    if target is not None:
        tau, var = target
        d = (rho - tau) * np.float32(1.0 / var)
        g = g - w * (rho - tau) * d * np.float32(0.5)
        g1 = g1 - w * (d if s is None else d * s)
        g2 = g2 - w * (np.float32(1.0 / var) if s is None else s * s * np.float32(1.0 / var))
    curvature = float(np.mean(g2, dtype=np.float64))
    # Fall back on the Fisher information -<g'^2> when the histogram curvature is not negative.
    fisher = -float(np.mean(g1 * g1, dtype=np.float64))
    if not curvature < 0:
        curvature = fisher if fisher < 0 else -1.0
    return LikelihoodTerms(g, g1, curvature)


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
    terms = likelihood_terms(rho, p_molecule, solvent, molecule, target, noise_scale)
    step = rfft(terms.g1 if noise_scale is None else terms.g1 * noise_scale, threads)
    step *= np.float32(-1.0 / terms.curvature)
    return ((F + step) * keep).astype(np.complex64, copy=False), terms


def r_value(F_obs: np.ndarray, F_ml: np.ndarray, select: np.ndarray) -> float:
    """R = sum |F_o - k F_ML| / sum |F_o| over the selected coefficients, k the least-squares
    scale of F_ML onto F_o (the definition written in the log; documented range 0.25-0.5)."""
    fo, fm = F_obs[select], F_ml[select]
    k = np.real(np.vdot(fm, fo)) / max(np.real(np.vdot(fm, fm)), 1e-30)
    return float(np.sum(np.abs(fo - k * fm)) / max(np.sum(np.abs(fo)), 1e-30))
