"""The composite target of one half map from its models (ALGORITHM.md section 9).

Per resolution shell the best estimate of the true map given half i's model mean M_i is
D(s) M_i, with D(s) = <F_j M_i*> / <|M_i|^2> estimated against the OTHER half map F_j (its
noise is independent of M_i; against F_i the model's fit to that half's noise inflates D).
Its error variance per shell is sigma_D^2(s) = <|S|^2> - D^2 <|M_i|^2>, <|S|^2> = <F_1 F_2*>
(Read, Acta Cryst A42:140 (1986), sigma_A in its map-coefficient form).

Only per-shell scalars come from the other half map (:class:`ShellStatistics`), so the target
of half i carries no voxel noise of half j: :func:`half_target` takes half i's data and those
scalars alone.

Real-space error variance at a voxel: the shell sum of sigma_D^2 within the
density-modification resolution, concentrated in the model region (the model's error lives
where the model is), raised by the variance among the D-scaled models at that voxel and by
the local excess of (rho_i - tau)^2 over its mean in the region (where model and map
disagree); the target's local confidence also falls as (local CC(tau, rho_i) / its median in
the region)^AGREEMENT_POWER where that correlation is below typical (models beside the
density rather than in it: a displaced segment).

How the target is used (measured on 1AKE and 5ME2 at 3.5 A, benchmarks/model_bench.py): as a
composite half map (:func:`composite_half_map`: the density-modified half map moved towards
the target per shell by the Wiener weight of the two estimates' errors, locally by the
target's confidence), which then stands for half i's density-modified coefficients in the
four-map recombination.  Put into the map likelihood instead, like the symmetry target
(g += P_M P_model ln N(rho; tau, var); :func:`half_target` returns var / P_model as the
variance so that map_phasing(target=(tau, var)) applies it in the model region only), it
did worse than standard density modification: the box-averaged Newton step overshoots where
the target is confident, and further histogram cycles wash out the model's detail.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..fourier import Shells, irfft, rfft
from ..fsc import cov, power
from ..recombination import smoothed
from .ensemble import Ensemble

# Floor of sigma_D^2 as a fraction of the signal power: no shell is trusted as exact.
SIGMA_FLOOR = 0.05
# Exponent of the local map-target correlation in the target's confidence.
AGREEMENT_POWER = 4.0
# P_model below this: the target is off (variance 1/tiny).
_OFF = 1e-6


@dataclass
class ShellStatistics:
    """Per-shell scalars for half i's target: D (model -> truth scale), sigma_D^2 (error
    power), signal power <|S|^2> and the model power <|M_i|^2>.  Arrays of n_shells."""

    D: np.ndarray
    sigma2: np.ndarray
    signal_power: np.ndarray
    model_power: np.ndarray

    def to_dict(self) -> dict:
        return {k: np.asarray(v).tolist() for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d) -> "ShellStatistics":
        return cls(**{k: np.asarray(v, dtype=np.float64) for k, v in d.items()})


def shell_statistics(M_i: np.ndarray, O_1: np.ndarray, O_2: np.ndarray, which: int,
                     shells: Shells) -> ShellStatistics:
    """D(s) against the OTHER half map and sigma_D^2(s) of half ``which``'s model mean
    spectrum ``M_i``; ``O_1``, ``O_2`` the two (sharpened) original half-map spectra."""
    O_j = O_2 if which == 1 else O_1
    s_pow = np.maximum(smoothed(cov(O_1, O_2, shells), shells), 0.0)
    m_pow = smoothed(power(M_i, shells), shells)
    D = np.clip(smoothed(cov(O_j, M_i, shells), shells) / np.maximum(m_pow, 1e-30), 0.0, None)
    sigma2 = np.maximum(s_pow - D * D * m_pow, SIGMA_FLOOR * s_pow)
    return ShellStatistics(D, sigma2, s_pow, m_pow)


@dataclass
class HalfTarget:
    """Half i's target.  ``tau`` (z, y, x) float32 on the scale of the half map; ``var`` the
    likelihood's variance (error variance / P_model: huge where the target does not apply);
    ``p_model`` where it applies (0..1); ``var_shells`` the box-average error variance of tau
    (shell sum of sigma_D^2); ``var_local`` the local raise (variance among the models +
    local excess of (rho_i - tau)^2), both in map units^2."""

    tau: np.ndarray
    var: np.ndarray
    p_model: np.ndarray
    var_shells: float
    var_local: np.ndarray
    figures: dict
    agreement: np.ndarray | None = None  # local correlation of tau with rho_i
    typical_agreement: float = 1.0       # its median in the model region
    model_mean: np.ndarray | None = None  # the models' mean density (before D(s))

    def confidence(self, power: float | None = None) -> np.ndarray:
        """Local confidence in the target, 0..1: var_shells / (var_shells + var_local),
        times the local correlation of target and map (clipped at 0) to the ``power``
        (AGREEMENT_POWER): where the models sit beside the density, not in it, the target
        fades."""
        c = self.var_shells / (self.var_shells + self.var_local)
        p = AGREEMENT_POWER if power is None else power
        if self.agreement is not None and p > 0:
            c = c * np.clip(self.agreement / self.typical_agreement, 0.0, 1.0) ** p
        return c.astype(np.float32)


def half_target(ens: Ensemble, rho_i: np.ndarray, stats: ShellStatistics, shells: Shells,
                keep=1.0, resolution_A: float | None = None, concentrate: bool = True,
                threads: int = 1) -> HalfTarget:
    """Half i's target from its ensemble, its own map ``rho_i`` (the map the likelihood will
    see, low-passed like it) and per-shell scalars only.  ``concentrate``: the error
    variance is taken to live in the model region (box average / its volume fraction)."""
    shape = rho_i.shape
    N = float(rho_i.size)
    filt = (shells.expand(stats.D) * keep).astype(np.float32)
    M = rfft(ens.mean, threads)
    tau = irfft(M * filt, shape, threads)
    # Variance among the models after the same per-shell scaling.
    var_models = np.zeros(shape, np.float32)
    for m in ens.maps:
        dev = irfft((rfft(m, threads) - M) * filt, shape, threads)
        var_models += dev * dev
    var_models /= max(len(ens.maps), 1)
    keep_shell = np.ones(shells.n) if np.isscalar(keep) else shells.mean(
        np.broadcast_to(keep, shells.index.shape))
    var_box = float(np.sum(shells.count * stats.sigma2 * keep_shell)) / (N * N)
    p = ens.region
    frac = max(float(p.mean()), 1.0 / N)
    var0 = var_box / frac if concentrate else var_box
    # Where model and map disagree: local mean square difference beyond its regional mean.
    sigma_vox = (resolution_A or 3.0) / np.asarray(shells.voxel_size)
    d2 = ndimage.gaussian_filter((rho_i - tau) ** 2, 0.5 * sigma_vox)
    region = p > 0.5
    base = float(np.mean(d2[region])) if region.any() else 0.0
    excess = np.maximum(d2 - base, 0.0)
    var_local = (var_models + excess).astype(np.float32)
    var_eff = (var0 + var_local) / np.maximum(p, _OFF)
    figures = dict(region_fraction=frac, var_shells=var0,
                   mean_var_models=float(np.mean(var_models[region])) if region.any() else 0,
                   mean_excess=float(np.mean(excess[region])) if region.any() else 0,
                   rms_tau=float(np.sqrt(np.mean(tau[region] ** 2))) if region.any() else 0)
    agreement = local_correlation(tau, rho_i, 0.5 * sigma_vox)
    typical = float(np.median(agreement[region])) if region.any() else 1.0
    figures["median_agreement"] = typical
    return HalfTarget(tau, var_eff.astype(np.float32), p, var0, var_local, figures, agreement,
                      max(typical, 1e-3), ens.mean)


def local_correlation(a: np.ndarray, b: np.ndarray, sigma_vox) -> np.ndarray:
    """Correlation of two maps in a Gaussian window (sigma in voxels, per axis) at every
    voxel, from Gaussian-filtered moments."""
    g = lambda x: ndimage.gaussian_filter(x, sigma_vox)  # noqa: E731
    ma, mb = g(a), g(b)
    cab = g(a * b) - ma * mb
    va = np.maximum(g(a * a) - ma * ma, 0.0)
    vb = np.maximum(g(b * b) - mb * mb, 0.0)
    return (cab / np.sqrt(np.maximum(va * vb, 1e-30))).astype(np.float32)


def composite_half_map(C_i: np.ndarray, target: HalfTarget, stats: ShellStatistics,
                       cc_i: np.ndarray, shells: Shells, keep=1.0, trust: float = 1.0,
                       threads: int = 1) -> np.ndarray:
    """Half i's composite map (spectrum): its density-modified half map C_i moved towards
    the target in the model region,

        composite = C_i + P_model(x) c(x) irfft( f(s) (T - C_i) ),

    f(s) = var_C(s) / (var_C(s) + sigma_D^2(s) / trust) per shell (the Wiener weight of the
    target against the map; var_C = <|C_i|^2> (1 - cc_i^2) the map's error power, cc_i its
    estimated correlation with the truth, e.g. the recombination's CC_ref of half i) and
    c(x) the target's local confidence (:meth:`HalfTarget.confidence`).  Half i's data and
    per-shell scalars only.  ``trust`` > 1 weights the model more than its estimated error
    says (chosen by the benchmark)."""
    var_c = power(C_i, shells) * (1.0 - np.clip(cc_i, 0.0, 1.0) ** 2)
    f = var_c / np.maximum(var_c + stats.sigma2 / trust, 1e-30)
    f[0] = 0.0  # the map's mean stays the map's
    T = rfft(target.tau, threads)
    # Beyond the density-modification resolution (``keep``) the map is left alone.
    diff = irfft((T - C_i) * (shells.expand(f) * keep), target.tau.shape, threads)
    move = target.p_model * target.confidence() * diff
    return (C_i + rfft(move, threads)).astype(np.complex64)
