"""Error model from the four maps and recombination (ALGORITHM.md section 6).

Model, per resolution shell: O_i = S + n_i (starting half maps), D_i = a S + b n_i + m_i + c
(map-phasing half maps; c is an error common to D1 and D2 that flattening introduces).
Only cross terms between different halves are free of shared noise, so

    var S = cov(O1, O2),   a = cov(D1, O2) / cov(O1, O2)   (D1 vs O2 share no error).

The best linear estimate of S from (O, D) is w = Sigma^-1 c with Sigma the covariance of
(O, D) and c = (var S, a var S); its correlation with S is CC_ref = sqrt(w_O + a w_D).
Per half map, (O_i, D_i) gives the density-modified half maps C_i; the full map is the joint
estimate from (mean O, mean D), which never does worse than averaging C1 and C2.  Its accuracy
is computed from the model, not from FSC(C1, C2), which the common error c inflates.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .fourier import Shells
from .fsc import moments


@dataclass
class Weights:
    """Per-shell weights of original (w_o) and map-phasing (w_d) coefficients, and the CC of
    the weighted sum with the truth."""

    w_o: np.ndarray
    w_d: np.ndarray
    cc_ref: np.ndarray

    def apply(self, O: np.ndarray, D: np.ndarray, shells: Shells,
              threads: int = 1) -> np.ndarray:
        """w_o O + w_d D (weights interpolated between shell centres), complex64; slab by
        slab (on ``threads`` threads), so that no weight map or product of the whole
        spectrum is made."""
        out = np.empty(np.broadcast_shapes(O.shape, D.shape), np.complex64)

        def one(sl, work, wo, wd):
            t = work.buffer("apply", np.complex64, out[sl].shape)
            np.multiply(wo, O[sl], out=out[sl])
            np.multiply(wd, D[sl], out=t)
            out[sl] += t
        shells.map_slabs(one, self.w_o, self.w_d, threads=threads,
                         buffers=[("apply", np.complex64)])
        return out


@dataclass
class Recombination:
    """Per-shell weights and statistics of a recombination; the recombined spectra C1, C2
    (per half) and F (joint) are computed when first asked for, from the maps given to
    :func:`recombine` (a caller that needs only the weights never pays for them, 12 bytes
    per voxel); :meth:`release` lets go of those maps."""

    half: tuple          # (Weights for half 1, Weights for half 2)
    full: Weights        # joint weights for (mean O, mean D)
    var_s: np.ndarray    # per-shell signal variance cov(O1, O2)
    a: np.ndarray        # per-shell signal scale of the map-phasing maps
    trusted: np.ndarray  # shells where the half maps agree beyond noise
    _maps: dict | None = None   # O1, O2, D1, D2, O (the original estimate), shells

    @functools.cached_property
    def C1(self) -> np.ndarray:
        m = self._inputs()
        return self.half[0].apply(m["O1"], m["D1"], m["shells"], m["threads"])

    @functools.cached_property
    def C2(self) -> np.ndarray:
        m = self._inputs()
        return self.half[1].apply(m["O2"], m["D2"], m["shells"], m["threads"])

    @functools.cached_property
    def F(self) -> np.ndarray:
        m = self._inputs()
        O = 0.5 * (m["O1"] + m["O2"]) if m["O"] is None else m["O"]
        return self.full.apply(O, 0.5 * (m["D1"] + m["D2"]), m["shells"], m["threads"])

    def release(self) -> None:
        """Forget the input maps (spectra computed already stay)."""
        self._maps = None

    def _inputs(self) -> dict:
        if self._maps is None:
            raise RuntimeError("the recombination's maps were released")
        return self._maps


# Shell statistics are averaged over this many neighbouring shells on each side before the
# weights are computed: the ratios of covariances are noisy in thin shells, and the weights
# should vary smoothly with resolution.
SMOOTH_SHELLS = 2


def smoothed(values: np.ndarray, shells: Shells, half_width: int = SMOOTH_SHELLS) -> np.ndarray:
    """Count-weighted running mean of a per-shell statistic over +-half_width shells."""
    k = np.ones(2 * half_width + 1)
    # The origin shell (one coefficient: the map's mean times N) stands alone and stays out
    # of its neighbours' averages: its power can dwarf a whole low-resolution shell's.
    count = shells.count.astype(np.float64).copy()
    count[0] = 0.0
    num = np.convolve(values * count, k, mode="same")
    den = np.convolve(count, k, mode="same")
    out = num / np.maximum(den, 1)
    out[0] = values[0]
    return out


class _Moments:
    """Smoothed per-shell second moments of named spectra, each computed once."""

    def __init__(self, shells: Shells, fixed: dict | None = None, threads: int = 1,
                 **spectra):
        """``fixed``: a dict kept by the caller across calls with the same O spectra (the
        cycles of one half map): moments of the O maps alone are taken once and kept there.
        ``threads``: threads of the shell sums."""
        self.shells, self.maps, self._cache = shells, spectra, {}
        self._fixed, self.threads = fixed, threads

    @staticmethod
    def _key(x: str, y: str | None) -> tuple:
        return (x, y) if y is None or x <= y else (y, x)

    def _store(self, key: tuple) -> dict:
        return self._fixed if self._fixed is not None and all(
            k is None or k.startswith("O") for k in key) else self._cache

    def need(self, *pairs) -> None:
        """Compute the moments of all these (x, y or None) pairs not known yet in one pass
        over the spectra (each spectrum read once per slab for all of them)."""
        keys = list(dict.fromkeys(self._key(x, y) for x, y in pairs))
        keys = [k for k in keys if k not in self._store(k)]
        if not keys:
            return
        raw = moments([(self.maps[x], None if y is None else self.maps[y]) for x, y in keys],
                      self.shells, self.threads)
        for k, r in zip(keys, raw):
            self._store(k)[k] = smoothed(r, self.shells)

    def __call__(self, x: str, y: str | None = None) -> np.ndarray:
        key = self._key(x, y)
        if key not in self._store(key):
            self.need((x, y))
        return self._store(key)[key]


def _signal_variance(m: _Moments, shells: Shells) -> tuple:
    """var S = cov(O1, O2) per shell, and the shells where it is significant (half-map FSC
    above 2/sqrt(number of coefficients in the smoothing window))."""
    var_s = m("O1", "O2")
    var_o = 0.5 * (m("O1") + m("O2"))
    n_window = np.convolve(shells.count, np.ones(2 * SMOOTH_SHELLS + 1), mode="same")
    significance = 2.0 / np.sqrt(np.maximum(n_window / 2.0, 1.0))
    trusted = var_s > significance * var_o
    # Floor: a noisy or empty shell must not give a zero or negative signal variance.
    floor = np.maximum(significance * var_o, 1e-30)
    return np.maximum(var_s, floor), trusted


def best_linear_weights(var_o, var_d, cov_od, var_s, a, trusted) -> Weights:
    """w = Sigma^-1 (var S, a var S) per shell; w_d = 0 where the shell is not trusted, where
    the map-phasing maps carry no signal (a <= 0), and where they do not exist (beyond
    dm_resolution the map-phasing coefficients are zero: the original keeps its Wiener
    weight there)."""
    has_d = var_d > 1e-6 * var_o
    det = var_o * var_d - cov_od ** 2
    use_d = trusted & has_d & (a > 0) & (det > 1e-12 * np.maximum(var_o * var_d, 1e-300))
    safe = np.where(use_d, det, 1.0)
    w_o = np.where(use_d, (var_d * var_s - cov_od * a * var_s) / safe,
                   var_s / np.maximum(var_o, 1e-300))
    w_d = np.where(use_d, (var_o * a * var_s - cov_od * var_s) / safe, 0.0)
    w_o = np.where(trusted, w_o, np.clip(var_s / np.maximum(var_o, 1e-300), 0, 1))
    cc2 = np.clip(w_o + a * w_d, 0.0, 1.0)
    # Beyond the last shell where the weights can be estimated the signal is too weak to
    # measure, but the noise (co)variances of O and D still are: mix them in proportion to
    # Sigma^-1 (1, a_k) (the best linear estimate as var S -> 0, a held at the last
    # estimable shell's value), at the small untrusted overall weight.  The map-phasing
    # maps' flatter solvent helps there; the accuracy (cc) is still reported as if only the
    # originals were used.
    # The last estimable shell ends the first run of estimable shells: a shell far beyond
    # that passes the significance test by chance (1 in 40 at 2 sigma) must not end the run,
    # or the shells in between lose the map-phasing maps altogether (reconstruction-like
    # benchmark case: CC with the truth 0.37 instead of 0.65 at 2.9 A).
    run = np.cumprod(use_d[1:])
    if run.any():
        k = int(run.sum())
        beyond = (np.arange(len(w_o)) > k) & ~trusted & has_d
        a_k = max(float(a[k]), 0.0)
        d_o = var_d[beyond] - cov_od[beyond] * a_k
        d_d = var_o[beyond] * a_k - cov_od[beyond]
        tot = d_o + d_d
        mix = np.where((tot > 0) & (d_d > 0), np.clip(d_d / np.where(tot > 0, tot, 1), 0, 1),
                       0.0)
        # The overall weight is held at the last estimable shell's: a cliff in the weights
        # inside a shell (they are interpolated between shell centres) would ring; the
        # final scaling sets the amplitudes of these shells anyway (from cc).
        w_tot = w_o[k] + w_d[k]
        w_o[beyond], w_d[beyond] = (1 - mix) * w_tot, mix * w_tot
    # The origin shell is one number, the map's mean: keep the original's.
    w_o[0], w_d[0], cc2[0] = 1.0, 0.0, 1.0
    return Weights(w_o, w_d, np.sqrt(cc2))


def _half_weights(m: _Moments, i: int, shells: Shells) -> Weights:
    oi, oj, di = f"O{i}", f"O{3 - i}", f"D{i}"
    m.need(("O1", "O2"), ("O1", None), ("O2", None), (di, oj), (oi, None), (di, None),
           (oi, di))
    var_s, trusted = _signal_variance(m, shells)
    a = m(di, oj) / var_s
    return best_linear_weights(m(oi), m(di), m(oi, di), var_s, a, trusted)


def half_weights(O_i, O_j, D_i, shells: Shells, fixed: dict | None = None,
                 threads: int = 1) -> Weights:
    """Weights for one half map from its own O_i and D_i and the OTHER original half O_j.

    Needs nothing of the other half's density modification, so both halves can be processed
    independently (and in parallel) in every cycle.  ``fixed``: an empty dict first, then the
    same dict on every later call with the same O_i and O_j (their moments are kept there).
    ``threads``: threads of the shell sums.
    """
    return _half_weights(_Moments(shells, fixed, threads, O1=O_i, O2=O_j, D1=D_i), 1, shells)


def recombine(O1, O2, D1, D2, shells: Shells, full_map=None, threads: int = 1
              ) -> Recombination:
    """Recombine the four maps: per-half maps C1, C2 and the joint full map F.

    The joint estimate uses (mean O, mean D), whose moments follow from those of the four
    maps: var(mean O) = (var O1 + var O2 + 2 cov(O1, O2)) / 4, and so on.
    ``full_map`` (optional spectrum): recombined with the map-phasing maps in place of the
    half-map average.  Its signal is brought onto the average's scale shell by shell
    (least-squares scale onto the half-map average) and its error assumed no larger.
    """
    m = _Moments(shells, threads=threads, O1=O1, O2=O2, D1=D1, D2=D2)
    # all the moments in one pass over the maps (ten of the four maps, five more with a
    # full map)
    full = [] if full_map is None else [("M", None), ("M", "O1"), ("M", "O2"), ("M", "D1"),
                                        ("M", "D2")]
    if full_map is not None:
        m.maps["M"] = full_map
    m.need(("O1", None), ("O2", None), ("D1", None), ("D2", None), ("O1", "O2"), ("D1", "D2"),
           ("O1", "D1"), ("O1", "D2"), ("O2", "D1"), ("O2", "D2"), *full)
    var_s, trusted = _signal_variance(m, shells)
    a = 0.5 * (m("D1", "O2") + m("D2", "O1")) / var_s
    w1, w2 = _half_weights(m, 1, shells), _half_weights(m, 2, shells)

    var_d = 0.25 * (m("D1") + m("D2") + 2 * m("D1", "D2"))
    if full_map is None:
        O = None  # 0.5 (O1 + O2), made when F is asked for
        var_o = 0.25 * (m("O1") + m("O2") + 2 * m("O1", "O2"))
        cov_od = 0.25 * (m("O1", "D1") + m("O1", "D2") + m("O2", "D1") + m("O2", "D2"))
    else:
        k = 0.5 * (m("M", "O1") + m("M", "O2")) / np.maximum(m("M"), 1e-300)
        k = np.where(k > 0, k, 0.0)
        O = np.empty(full_map.shape, np.complex64)  # expand(k) full_map, slab by slab
        shells.map_slabs(lambda sl, work, v: np.multiply(v, full_map[sl], out=O[sl]), k,
                         threads=threads)
        var_o = k * k * m("M")
        cov_od = 0.5 * k * (m("M", "D1") + m("M", "D2"))
    full = best_linear_weights(var_o, var_d, cov_od, var_s, a, trusted)
    return Recombination((w1, w2), full, var_s, a, trusted,
                         dict(O1=O1, O2=O2, D1=D1, D2=D2, O=O, shells=shells, threads=threads))
