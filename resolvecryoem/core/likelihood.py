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

from .fourier import half_spectrum_multiplicity, rfft, slabs_of
from .histograms import DensityHistogram, grid_position
from .parallel import map_slabs


@dataclass
class LikelihoodTerms:
    """Per-voxel g, g' and the box-averaged curvature <g''> used for the Newton step."""

    g: np.ndarray
    g1: np.ndarray
    curvature: float


# Voxels per piece when evaluating the likelihood (a unit of work for a thread).  The piece
# size sets how <g''> is summed (float64, piece by piece in piece order): changing it changes
# the curvature's last bits, the thread count does not.
CHUNK_VOXELS = 1 << 18
# Voxels per block within a piece: a block's buffers (~4 MB per thread in all) are reused
# for every block, and most of the ~60 passes over them hit the cache (measured at 256^3:
# 64K voxels 0.37 s, the whole 256K piece 0.47 s, 4K 0.69 s per call).
BLOCK_VOXELS = 1 << 16


def _inverse_variance(var, n):
    """1/var of a target: a scalar, or per voxel (flattened) when var is a map."""
    if np.ndim(var) == 0:
        return np.float32(1.0 / var)
    v = np.asarray(var, np.float32).reshape(-1)
    if v.size != n:
        raise ValueError(f"target variance of {v.size} voxels for a map of {n}")
    return np.float32(1.0) / v


class _Buffers:
    """One thread's buffers for :func:`likelihood_terms` (float32 unless said): reused block
    after block, so no temporaries are allocated (and page-faulted in), and a block's
    working set stays in the core's cache."""

    def __init__(self, block: int, piece: int):
        f = np.float32
        self.ps, self.pm = np.empty((3, block), f), np.empty((3, block), f)  # p, p', p''
        self.i_s, self.i_m = np.empty(block, np.intp), np.empty(block, np.intp)
        self.t_s, self.t_m = np.empty(block, f), np.empty(block, f)  # grid positions
        self.a, self.b, self.v, self.den = (np.empty(block, f) for _ in range(4))
        self.g2 = np.empty(piece, f)  # g'' of a whole piece, summed at once


def likelihood_terms(rho: np.ndarray, p_molecule: np.ndarray, solvent: DensityHistogram,
                     molecule: DensityHistogram, target=None, with_g: bool = True,
                     noise_scale=None, threads: int = 1) -> LikelihoodTerms:
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
    Evaluated in pieces of CHUNK_VOXELS voxels on ``threads`` threads; the result depends on
    neither the thread count nor the scheduling (each piece's sum is added in piece order).
    """
    rho_f, w_f = rho.reshape(-1), p_molecule.reshape(-1)
    n = rho_f.size
    s_f = None if noise_scale is None else noise_scale.reshape(-1)
    mu = np.float32(solvent.mean())
    tau_f, inv_var = (None, None) if target is None else (
        target[0].reshape(-1), _inverse_variance(target[1], n))
    # Without a noise scale both histograms are read at rho: one grid position serves both.
    same_position = s_f is None and np.array_equal(solvent.centres, molecule.centres)
    ts, tm = solvent.tables(), molecule.tables()
    g1_out = np.empty(n, np.float32)
    g_out = np.empty(n, np.float32) if with_g else None
    pieces = [slice(lo, min(lo + CHUNK_VOXELS, n)) for lo in range(0, n, CHUNK_VOXELS)]

    def piece(sl, b):  # b: this thread's buffers, handed from piece to piece
        g2 = b.g2[:sl.stop - sl.start]
        for lo in range(sl.start, sl.stop, BLOCK_VOXELS):
            blk = slice(lo, min(lo + BLOCK_VOXELS, sl.stop))
            _block_terms(blk, b, g2[blk.start - sl.start:blk.stop - sl.start])
        return float(np.sum(g2, dtype=np.float64))

    def _block_terms(sl, b, g2):
        m = sl.stop - sl.start
        r, w = rho_f[sl], w_f[sl]
        sc = None if s_f is None else s_f[sl]
        ps, pm, a, tmp, v, den = (b.ps[:, :m], b.pm[:, :m], b.a[:m], b.b[:m], b.v[:m],
                                  b.den[:m])
        where_m = grid_position(r, molecule.centres, (b.i_m[:m], b.t_m[:m]), tmp)
        if sc is None:
            where_s = where_m if same_position else grid_position(
                r, solvent.centres, (b.i_s[:m], b.t_s[:m]), tmp)
            solvent.evaluate(r, where_s, ts, ps, tmp)
        else:
            rw = np.subtract(r, mu, out=a)  # rho_w = mu + (rho - mu) / s
            rw /= sc
            rw += mu
            where_s = grid_position(rw, solvent.centres, (b.i_s[:m], b.t_s[:m]), tmp)
            solvent.evaluate(rw, where_s, ts, ps, tmp)
        molecule.evaluate(r, where_m, tm, pm, tmp)
        if sc is not None:
            # d/drho_w = s d/drho; the density of rho_w is s p_M(rho).
            pm[0] *= sc
            np.multiply(sc, sc, out=a)
            pm[1] *= a
            a *= sc
            pm[2] *= a
        np.subtract(np.float32(1), w, out=v)
        # den = w p_M + (1 - w) p_S, g' = (w p_M' + v p_S') / den,
        # g'' = (w p_M'' + v p_S'') / den - g'^2, each in place.
        np.multiply(w, pm[0], out=den)
        np.multiply(v, ps[0], out=tmp)
        den += tmp
        np.maximum(den, np.float32(1e-30), out=den)
        g1 = np.multiply(w, pm[1], out=g1_out[sl])
        np.multiply(v, ps[1], out=tmp)
        g1 += tmp
        g1 /= den
        np.multiply(w, pm[2], out=g2)
        np.multiply(v, ps[2], out=tmp)
        g2 += tmp
        g2 /= den
        np.multiply(g1, g1, out=tmp)
        g2 -= tmp
        if with_g:
            g = np.log(den, out=g_out[sl])
        if target is not None:
            iv = inv_var if np.ndim(inv_var) == 0 else inv_var[sl]
            d = (r - tau_f[sl]) * iv
            if with_g:
                g -= w * (r - tau_f[sl]) * d * np.float32(0.5)
            g1 -= w * (d if sc is None else d * sc)
            g2 -= w * (iv if sc is None else sc * sc * iv)

    sum_g2 = 0.0
    for s in map_slabs(piece, pieces, threads,
                       lambda: _Buffers(min(BLOCK_VOXELS, n), min(CHUNK_VOXELS, n))):
        sum_g2 += s
    curvature = sum_g2 / max(n, 1)
    if not curvature < 0:
        # Fall back on the Fisher information -<g'^2> when the histogram curvature is not
        # negative (summed piece by piece as <g''> is).
        sum_g1sq = 0.0
        for sl in pieces:
            g1 = g1_out[sl]
            sum_g1sq += float(np.sum(g1 * g1, dtype=np.float64))
        fisher = -sum_g1sq / max(n, 1)
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
                             noise_scale=noise_scale, threads=threads)
    return newton_step(F, terms, keep, threads, noise_scale), terms


def newton_step(F: np.ndarray, terms: LikelihoodTerms, keep: np.ndarray, threads: int = 1,
                noise_scale=None) -> np.ndarray:
    """F_ML = (F - rfftn(s g') / <g''>) keep (s = 1 without ``noise_scale``): the second half
    of :func:`map_phasing`, for a caller that lets go of the map between the two halves.
    Uses up ``terms.g1`` (scaled in place, transformed, then dropped).  The voxel- and
    coefficient-wise products go plane slab by plane slab on ``threads`` threads."""
    g1 = terms.g1
    terms.g1 = None  # transformed; not kept alive beside the spectra
    if noise_scale is not None:
        map_slabs(lambda sl: np.multiply(g1[sl], noise_scale[sl], out=g1[sl]),
                  slabs_of(g1.shape), threads)
    step = rfft(g1, threads)
    g1 = None  # let go (not del: the lambda above names it)
    scale = np.float32(-1.0 / terms.curvature)
    keep = np.broadcast_to(keep, step.shape)

    def combine(sl):
        # In place: F_ML = (F + step) keep without spectrum-sized temporaries, and the three
        # products made while a slab is in cache.
        st = step[sl]
        st *= scale
        st += F[sl]
        st *= keep[sl]

    map_slabs(combine, slabs_of(step.shape), threads)
    return step.astype(np.complex64, copy=False)


def r_value(F_obs: np.ndarray, F_ml: np.ndarray, select: np.ndarray) -> float:
    """R = sum |F_o - k F_ML| / sum |F_o| over the selected coefficients, k the least-squares
    scale of F_ML onto F_o (the definition written in the log; documented range 0.25-0.5)."""
    fo, fm = F_obs[select], F_ml[select]
    k = np.real(np.vdot(fm, fo)) / max(np.real(np.vdot(fm, fm)), 1e-30)
    return float(np.sum(np.abs(fo - k * fm)) / max(np.sum(np.abs(fo)), 1e-30))
