"""Solvent masks from local rms density (ALGORITHM.md section 4)."""
from __future__ import annotations

import numpy as np
import scipy.fft

from .fourier import Shells, irfft, rfft
from .parallel import map_slabs


def sphere_kernel_spectrum(shells: Shells, radius_A: float) -> np.ndarray:
    """Half spectrum of a normalised solid sphere of radius ``radius_A`` centred at the origin.

    Analytic transform of a ball: 3 (sin x - x cos x) / x^3 with x = 2 pi s R, so no kernel
    map and no extra FFT are needed.
    """
    out = np.empty(shells.index.shape, np.float32)
    for sl in shells.slabs():
        out[sl] = _sphere_kernel_slab(shells, radius_A, sl)
    return out


def _sphere_kernel_slab(shells: Shells, radius_A: float, sl: slice) -> np.ndarray:
    """:func:`sphere_kernel_spectrum` on one of ``shells.slabs()``."""
    ny = shells.index.shape[1]
    m = ny // 2 + 1
    # float64 for the cancellation near x = 0, a slab at a time.  Rows ky and -ky have the
    # same |s| to the last bit (fftfreq's -k and k are exact negatives): the kernel is
    # evaluated on rows 0..ny/2 and mirrored (half the work).
    x = (2.0 * np.pi * radius_A) * shells.s_slab(sl)[:, :m].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        k = np.where(x > 1e-6, 3.0 * (np.sin(x) - x * np.cos(x)) / x ** 3,
                     1.0).astype(np.float32)
    out = np.empty((k.shape[0], ny, k.shape[2]), np.float32)
    out[:, :m] = k
    out[:, m:] = k[:, 1:(ny + 1) // 2][:, ::-1]
    return out


def smooth(rho: np.ndarray, shells: Shells, radius_A: float, threads: int = 1,
           overwrite: bool = False) -> np.ndarray:
    """Average of a map over a sphere of ``radius_A`` around each voxel (periodic, by FFT).
    ``overwrite``: rho is a temporary of the caller's, let go once transformed (the caller
    must hold no other reference to it for its memory to be freed)."""
    F = rfft(rho, threads)
    shape = rho.shape
    if overwrite:
        del rho

    def slab(sl):  # no kernel of the whole spectrum; its float64 sin/cos on the threads
        F[sl] *= _sphere_kernel_slab(shells, radius_A, sl)

    map_slabs(slab, shells.slabs(), threads)
    return irfft(F, shape, threads, overwrite=True)


def local_rms(rho: np.ndarray, shells: Shells, radius_A: float, threads: int = 1,
              overwrite: bool = False) -> np.ndarray:
    """sqrt of the sphere-averaged (rho - mean)^2: high in the molecule, low in flat solvent.
    ``overwrite``: rho is a temporary (see :func:`smooth`)."""
    mean = np.float32(rho.mean(dtype=np.float64))
    d = rho if overwrite else np.empty_like(rho)  # a temporary of the caller's: worked in

    def square(k):  # (rho - mean)^2 a plane at a time, on the threads
        np.subtract(rho[k], mean, out=d[k])
        d[k] *= d[k]

    map_slabs(square, range(d.shape[0]), threads)
    rho = None  # let go (not del: the closure above names it)
    out = smooth(d, shells, radius_A, threads, overwrite=True)
    d = None

    def root(k):
        np.maximum(out[k], 0.0, out=out[k])
        np.sqrt(out[k], out=out[k])

    map_slabs(root, range(out.shape[0]), threads)
    return out


def masked_rfft(rho: np.ndarray, mask: np.ndarray, threads: int = 1) -> np.ndarray:
    """:func:`fourier.rfft` of ``rho * mask`` with no map-sized product: the last axis is
    transformed plane by plane from each plane's product (on ``threads`` threads), then the
    other two axes in place.  pocketfft's rfftn does the same axes in the same order, so the
    spectrum is bit-identical to ``rfft(rho * mask)`` (checked in the tests)."""
    shape = rho.shape
    F = np.empty(shape[:-1] + (shape[-1] // 2 + 1,), np.complex64)

    def plane(k):
        F[k] = scipy.fft.rfft(np.asarray(rho[k] * mask[k], dtype=np.float32), axis=-1)

    map_slabs(plane, range(shape[0]), threads)
    return scipy.fft.fftn(F, axes=(0, 1), workers=threads, overwrite_x=True)


def signal_estimate(F_average: np.ndarray, half_map_fsc: np.ndarray, shells: Shells,
                    threads: int = 1, overwrite: bool = False) -> np.ndarray:
    """The half-map average filtered per shell by its signal fraction, 2 FSC / (1 + FSC) (the
    Wiener filter var S / var(average), FSC the half-map FSC): the map whose local rms
    separates molecule from solvent.

    The map used for density modification is sharpened and extends beyond the resolution,
    where it is mostly noise; with noise that is not stationary (reconstructions: more noise
    near the box edges at high resolution, or in the solvent), the local rms of that map
    follows the noise, not the molecule (reconstruction-like benchmark case: mean P(molecule)
    inside the molecular envelope 0.27 from the sharpened map, 0.50 = the molecular volume's
    share from this one).
    ``overwrite``: F_average is a temporary the filter and transform may work in.
    """
    f = np.clip(np.asarray(half_map_fsc, dtype=np.float64), 0.0, 1.0)
    return filtered_map(F_average, 2.0 * f / (1.0 + f), shells, threads, overwrite)


def filtered_map(F: np.ndarray, per_shell: np.ndarray, shells: Shells, threads: int = 1,
                 overwrite: bool = False) -> np.ndarray:
    """The map of spectrum ``F`` times a per-shell filter (:meth:`Shells.expand`), the product
    made slab by slab on ``threads`` threads.  ``overwrite``: F is a temporary the filter and
    the transform may work in."""
    G = F if overwrite else np.empty_like(F)

    def weigh(sl, work, v):
        np.multiply(F[sl], v, out=G[sl])
    shells.map_slabs(weigh, per_shell, threads=threads)
    return irfft(G, shells.shape, threads, overwrite=True)


def noise_scale(noise: np.ndarray, p_molecule: np.ndarray, shells: Shells, radius_A: float,
                threads: int = 1, floor: float = 0.5) -> np.ndarray:
    """s(x): local rms of a noise map (e.g. the difference of the half maps) relative to its
    P(molecule)-weighted mean over the molecule, float32, never below ``floor``.

    Reconstructions do not have stationary noise: on the reconstruction-like benchmark maps,
    after half-map sharpening the solvent's noise sd is 0.12 near the molecule and 0.63 near
    the box corners.  One solvent histogram for the whole box is then a heavy-tailed mixture,
    and the map-likelihood step flattens the quiet solvent too much (slope -0.22 instead of
    the flipping -(1 - f)/f = -0.06) and the noisy solvent hardly at all (slope +0.5).
    Dividing (rho - solvent mean) by s(x) makes the noise stationary at the molecule's level
    (see :func:`likelihood.map_phasing`).
    """
    lv = smooth(noise * noise, shells, radius_A, threads, overwrite=True)
    np.maximum(lv, 0.0, out=lv)
    # sum(P lv) / sum(P) in float64, with one float64 map at a time (not two)
    w = p_molecule.astype(np.float64)
    total_w = max(np.sum(w, dtype=np.float64), 1e-30)
    w *= lv
    ref = float(np.sum(w, dtype=np.float64) / total_w)
    del w
    lv /= max(ref, 1e-30)
    np.maximum(lv, floor * floor, out=lv)
    return np.sqrt(lv, out=lv).astype(np.float32, copy=False)


def normalise_noise(rho: np.ndarray, scale: np.ndarray, centre: float) -> np.ndarray:
    """centre + (rho - centre) / scale: the map with its noise made stationary."""
    out = rho - np.float32(centre)
    out /= scale
    out += np.float32(centre)
    return out.astype(np.float32, copy=False)


def probabilistic_mask(lrms: np.ndarray, solvent_fraction: float,
                       softness: float = 0.5, overwrite: bool = False,
                       threads: int = 1) -> np.ndarray:
    """P(molecule) at each voxel from a local-rms map (float32, 0..1).

    The threshold t keeps (1 - solvent_fraction) of the box as molecule; the probability is a
    logistic in ln(lrms / t) whose width is ``softness`` x the spread (interquartile range /
    1.35) of ln(lrms) in the solvent region, so voxels near the boundary are uncertain rather
    than forced into one region.  The mask is then shifted so that its mean equals
    1 - solvent_fraction exactly (the molecular volume is known, the boundary is not).
    ``overwrite``: lrms is a temporary the mask is made in.  The voxel-wise steps go a plane
    at a time on ``threads`` threads.
    """
    f = float(np.clip(solvent_fraction, 0.01, 0.99))
    ln = lrms if overwrite else np.empty_like(lrms)
    planes = range(ln.shape[0])

    def log(k):
        np.maximum(lrms[k], np.float32(1e-30), out=ln[k])
        np.log(ln[k], out=ln[k])

    map_slabs(log, planes, threads)
    lrms = None  # let go (not del: the closure above names it)
    t, q1, q3 = _threshold_and_quartiles_below(ln, f)
    width = max(softness * (q3 - q1) / 1.35, 1e-6)
    z = ln

    def scale(k):
        z[k] -= t
        z[k] /= width

    map_slabs(scale, planes, threads)
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
    shift = 0.5 * (lo + hi)

    def logistic(k):  # _logistic in place (z is ours): no box-sized temporaries
        zk = z[k]
        zk += shift
        np.clip(zk, -60, 60, out=zk)
        np.negative(zk, out=zk)
        np.exp(zk, out=zk)
        zk += 1.0
        np.divide(1.0, zk, out=zk)

    map_slabs(logistic, planes, threads)
    return z.astype(np.float32, copy=False)


def _threshold_and_quartiles_below(values: np.ndarray, q: float) -> tuple:
    """(t, q1, q3): t = np.quantile(values, q), q1 and q3 = the quartiles of the values <= t
    ((t - 1, t) if there are none), exactly as np.quantile gives them, without partitioning
    the whole map twice: the values <= t are its m smallest, so their quartiles are order
    statistics of the map too (:func:`_quantile`)."""
    x = values.ravel()
    if not np.isfinite(x.max()):  # NaN or inf: np.quantile's own rules
        t = np.quantile(x, q)
        below = x[x <= t]
        return (t, *np.quantile(below, [0.25, 0.75])) if below.size else (t, t - 1, t)
    sample = np.sort(x[:: max(1, x.size // (1 << 18))])
    t = _quantile(x, x.size, q, sample)
    m = int(np.count_nonzero(x <= t))
    if m == 0:
        return t, t - 1, t
    return t, _quantile(x, m, 0.25, sample), _quantile(x, m, 0.75, sample)


def _quantile(x: np.ndarray, n: int, q: float, sample: np.ndarray):
    """np.quantile(np.sort(x)[:n], q) to the bit (linear interpolation, the default) for
    finite float ``x``.  np.quantile interpolates between the order statistics k and k + 1,
    k = floor((n - 1) q), with gamma = (n - 1) q - k; np.quantile([a, b], gamma) does the
    same arithmetic on the two values ((2 - 1) gamma is gamma exactly).  The two values are
    selected among the few between bounds read off a sorted ``sample`` of x (counted to be
    sure they bracket them; else x is partitioned whole)."""
    v = (n - 1) * np.asarray(q, dtype=np.float64)
    k = int(np.floor(v))
    gamma = v - np.floor(v)
    ranks = [k, min(k + 1, n - 1)]
    a, b = _order_statistics(x, ranks, sample)
    return np.quantile(np.array([a, b], dtype=x.dtype), gamma)


def _order_statistics(x: np.ndarray, ranks: list, sample: np.ndarray) -> list:
    """The values of ranks (0-based, close together) of the sorted x."""
    ns, n = sample.size, x.size
    lo_r, hi_r = min(ranks), max(ranks)
    # Where those ranks fall in the sample, widened by ~8 sd of a sample rank and more.
    j_lo, j_hi = lo_r / max(n - 1, 1) * (ns - 1), hi_r / max(n - 1, 1) * (ns - 1)
    p = min(max(lo_r / max(n - 1, 1), 1e-6), 1 - 1e-6)
    margin = int(8.0 * np.sqrt(ns * p * (1 - p))) + 16
    lo_i, hi_i = int(np.floor(j_lo)) - margin, int(np.ceil(j_hi)) + margin
    inside = np.ones(n, bool) if lo_i <= 0 else x >= sample[lo_i]
    if hi_i < ns - 1:
        inside &= x <= sample[hi_i]
    under = 0 if lo_i <= 0 else int(np.count_nonzero(x < sample[lo_i]))
    candidates = x[inside]
    del inside
    if not under <= lo_r <= hi_r < under + candidates.size:  # the sample misled: all of x
        under, candidates = 0, x.copy()
    local = [r - under for r in ranks]
    candidates.partition(sorted(set(local)))
    return [candidates[r] for r in local]


def final_solvent_mask(p_molecule: np.ndarray, shells: Shells, resolution_A: float,
                       threads: int = 1, radius_ratio: float = 2.5, gain: float = 4.0
                       ) -> np.ndarray:
    """Soft mask (0..1) for flattening the final map's solvent: P(molecule) averaged over a
    sphere of ``radius_ratio`` x resolution, times ``gain``, clipped to 1 - the molecule
    region dilated by about that radius, so that weak or flexible parts near it are kept.

    Why: the recombination weights are per shell, so the final map keeps w_O times the
    original maps' solvent noise (solvent rms 0.05-0.07 of the molecule's on the benchmark,
    0.01-0.03 for a masked average).  With this mask 0.03, and FSC(truth) = 0.5 at 2.66 ->
    2.48 A on the reconstruction-like haemoglobin case; the stationary 3.5 A haemoglobin
    case is unchanged with this generous mask (2.5 x resolution, gain 4) but lost 0.02 A
    inside the envelope with a tighter one (1.5-2 x resolution, gain 3).
    """
    m = smooth(p_molecule, shells, radius_ratio * resolution_A, threads)
    m *= gain
    return np.clip(m, 0.0, 1.0, out=m).astype(np.float32, copy=False)


def flatten_solvent(rho: np.ndarray, mask: np.ndarray, threads: int = 1) -> np.ndarray:
    """mask x rho + (1 - mask) x (mean of rho weighted by 1 - mask).  The output array holds
    (1 - mask) x rho for the mean first (one map-sized array fewer), then is made a plane at
    a time on ``threads`` threads."""
    w = 1.0 - mask
    out = np.multiply(w, rho)
    mu = float(np.sum(out, dtype=np.float64) / max(float(np.sum(w, dtype=np.float64)),
                                                    1e-30))
    mu32 = np.float32(mu)

    def plane(k):
        np.multiply(mask[k], rho[k], out=out[k])
        wk = w[k]
        wk *= mu32
        out[k] += wk

    map_slabs(plane, range(out.shape[0]), threads)
    return out.astype(np.float32, copy=False)


def _logistic(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))


def mask_from_file(mask: np.ndarray, shells: Shells, resolution_A: float,
                   threads: int = 1) -> np.ndarray:
    """P(molecule) from a user mask (1 = molecule): clipped to 0..1 and softened over
    ~resolution/2 so that its edge does not ring in Fourier space."""
    m = np.clip(mask.astype(np.float32), 0.0, 1.0)
    return np.clip(smooth(m, shells, 0.5 * resolution_A, threads), 0.0, 1.0)
