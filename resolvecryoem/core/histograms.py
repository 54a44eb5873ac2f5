"""Density histograms of the solvent and molecule regions (ALGORITHM.md section 4).

A :class:`DensityHistogram` is a smooth probability density of map values, tabulated on a
uniform grid, with its first and second derivatives, so that the log-likelihood of a map and
its derivatives can be evaluated at every voxel by interpolation (no loops over voxels).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from .errors import InputError
from .parallel import map_slabs

# Voxels per piece of the histogram binning: its temporaries (about 30 bytes per voxel) are
# made in the worker threads, whose malloc arenas keep them for the run.
PIECE_VOXELS = 1 << 18

_N_BINS = 512
_TAIL = 1e-6  # floor of the density relative to its peak: ln p stays finite
# Fewer voxels (summed weights) than this in a region give no usable histogram.
MIN_REGION_VOXELS = 50.0
_SOLVENT_CONFIDENCE_POWER = 8  # solvent histogram weight (1 - P_M)^8: see density_histograms


@dataclass
class DensityHistogram:
    """p(rho) on a uniform grid ``centres`` (map units), normalised to unit integral."""

    centres: np.ndarray
    density: np.ndarray

    @property
    def step(self) -> float:
        return float(self.centres[1] - self.centres[0])

    def derivatives(self):
        """(p, p', p'') tabulated on ``centres``."""
        d1 = np.gradient(self.density, self.step)
        d2 = np.gradient(d1, self.step)
        return self.density, d1, d2

    def tables(self) -> list:
        """[(value, step to the next bin)] of p, p', p'' as float32, for :meth:`evaluate`."""
        out = []
        for tab in self.derivatives():
            t32 = tab.astype(np.float32)
            out.append((t32, np.diff(t32, append=t32[-1])))
        return out

    def evaluate(self, rho: np.ndarray, where=None, tables=None, out=None, scratch=None):
        """(p, p', p'') at map values ``rho`` (float32 arrays of rho's shape).

        Linear interpolation on the grid; values beyond the grid take the end values.
        ``where`` is a precomputed :func:`grid_position` of rho on the same grid (histograms
        sharing a grid then share the costly index computation); ``tables`` precomputed
        :meth:`tables` (for evaluating piece by piece).  ``out`` (optional, (3,) + rho's
        shape, float32) receives the three values, ``scratch`` (rho's shape, float32) is
        used for the steps: with both, nothing is allocated.
        """
        i, t = grid_position(rho, self.centres) if where is None else where
        if out is None:
            out = np.empty((3,) + np.shape(i), np.float32)
        if scratch is None:
            scratch = np.empty(np.shape(i), np.float32)
        for lo, (tab, step) in zip(out, self.tables() if tables is None else tables):
            # grid_position's indices are within the table (NaN refused), so the mode
            # only picks numpy's loop: "wrap" is its fastest (2-3x "raise").
            tab.take(i, out=lo, mode="wrap")  # the method: np.take's wrapper costs 10%
            step.take(i, out=scratch, mode="wrap")
            scratch *= t
            lo += scratch
        return out

    def mean(self) -> float:
        return float(np.sum(self.centres * self.density) * self.step)

    def variance(self) -> float:
        m = self.mean()
        return float(np.sum((self.centres - m) ** 2 * self.density) * self.step)


def grid_position(rho: np.ndarray, centres: np.ndarray, out=None, scratch=None):
    """(index, fraction) of each value on a uniform grid, clipped to the grid.

    ``out`` (optional): (intp array, float32 array) of rho's shape to write them into;
    ``scratch`` (optional float32 array of rho's shape) is used for the floor.
    """
    if out is None:
        out = (np.empty(np.shape(rho), np.intp), np.empty(np.shape(rho), np.float32))
    if scratch is None:
        scratch = np.empty(np.shape(rho), np.float32)
    i, x = out
    np.subtract(rho, np.float32(centres[0]), out=x)
    x *= np.float32(1.0 / (centres[1] - centres[0]))
    if x.size:
        lo, hi = x.min(), x.max()  # 4x cheaper than the clip, which is rarely needed
        if np.isnan(hi):  # NaN would survive the clip and has no index
            raise ValueError("NaN among the map values: no position on the histogram grid")
        top = np.float32(len(centres) - 1.0001)
        if lo < 0 or hi > top:
            np.clip(x, 0, len(centres) - 1.0001, out=x)
    # intp: np.take would convert any other index type on every call.  The floor in float32
    # is exact and cheaper than x - i from the integers (x >= 0: the cast truncates to it).
    np.floor(x, out=scratch)
    np.copyto(i, scratch, casting="unsafe")
    x -= scratch
    return i, x


# The histograms are convolved with NOISE_BROADENING^2 times the noise variance a half map adds
# to the full map (sigma_half^2 / 2).  2 was better at FSC(truth) = 0.5 on every benchmark
# case tried (e.g. stationary 1AKE 3.5 A 2.80/2.79 -> 2.75/2.74 A whole box / envelope), but
# it damaged the lowest shells inside the molecule (FSC with the truth 0.965 against the
# average's 0.996 near 20 A; tests/test_honesty.py) and removed the gain of symmetry on the
# test dimer (tests/test_symmetry.py): 1 (the noise a half map adds, exactly) is kept until
# both are understood.
NOISE_BROADENING = 1.0


def added_noise_sd(var_half: float) -> float:
    """sd of the Gaussian the full-map histograms are convolved with, for half maps whose
    noise variance is ``var_half``: NOISE_BROADENING x sqrt(var_half / 2)."""
    return NOISE_BROADENING * float(np.sqrt(0.5 * var_half))


def density_histograms(rho: np.ndarray, p_molecule: np.ndarray, added_noise_sd: float,
                       value_range: tuple | None = None, n_bins: int = _N_BINS,
                       smoothing_bins: float = 1.5, solvent_values: np.ndarray | None = None,
                       threads: int = 1):
    """Solvent and molecule histograms of a full map, as expected for a half map.

    Each voxel counts in the molecule histogram with weight P_M(x) and in the solvent one with
    (1 - P_M(x))^8 (see below).  A half map carries twice the noise variance of the full map, so both are
    convolved with N(0, added_noise_sd^2) with added_noise_sd^2 = sigma_half^2 / 2 (the noise
    of the full map is already in them and must not be counted twice).  Returns
    (solvent, molecule) :class:`DensityHistogram`.

    The solvent histogram counts each voxel with weight (1 - P_M)^8 rather than 1 - P_M, i.e.
    only voxels confidently in the solvent: with 1 - P_M it also counted the molecule's
    density wherever the soft mask is below 1 inside the molecule (on the benchmark's maps
    P_M averages 0.75 within 1.5 A of the atoms), giving heavy tails whose flat log-density
    leaves noisy solvent unflattened (reconstruction-like cases: FSC(truth) = 0.5 at
    2.88 -> 2.83 A whole box (adenylate kinase), 2.66 -> 2.59 A (haemoglobin); stationary
    cases unchanged).  The exponent was chosen on the benchmark (3: halfway).
    ``solvent_values`` (optional, rho's shape): the values binned for the solvent histogram
    (e.g. the map with its noise normalised, :func:`masking.normalise_noise`); default rho.
    """
    sv = rho if solvent_values is None else solvent_values
    lo, hi = (min(float(rho.min()), float(sv.min())), max(float(rho.max()), float(sv.max()))) \
        if value_range is None else value_range
    pad = 6.0 * added_noise_sd + 0.1 * (hi - lo)
    edges = np.linspace(lo - pad, hi + pad, n_bins + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    step = edges[1] - edges[0]
    # Bin index by arithmetic + bincount (np.histogram sorts when given weights), a piece at
    # a time (indices and weights are 64-bit in bincount), the pieces on ``threads`` threads
    # and their counts added in piece order (the same sums for any thread count).
    r, pm = rho.reshape(-1), p_molecule.reshape(-1)
    svf = sv.reshape(-1)

    def bins(values):
        return np.clip(((values - edges[0]) / step).astype(np.intp), 0, n_bins - 1)

    def piece(start):
        sl = slice(start, start + PIECE_VOXELS)
        ws = 1.0 - pm[sl]
        # The solvent histogram from confidently solvent voxels only.
        return (float(np.sum(ws, dtype=np.float64)), float(np.sum(pm[sl], dtype=np.float64)),
                np.bincount(bins(svf[sl]), weights=ws ** _SOLVENT_CONFIDENCE_POWER,
                            minlength=n_bins),
                np.bincount(bins(r[sl]), weights=pm[sl], minlength=n_bins))

    counts = {"solvent": np.zeros(n_bins), "molecule": np.zeros(n_bins)}
    size = {"solvent": 0.0, "molecule": 0.0}  # voxels (summed weights) in each region
    for n_s, n_m, c_s, c_m in map_slabs(piece, range(0, r.size, PIECE_VOXELS), threads):
        size["solvent"] += n_s
        size["molecule"] += n_m
        counts["solvent"] += c_s
        counts["molecule"] += c_m
    out = []
    for region in ("solvent", "molecule"):
        h = counts[region]
        if not size[region] >= MIN_REGION_VOXELS:
            raise InputError(f"the {region} region of the analysed box is (nearly) empty "
                             f"({size[region]:.0f} voxels): no {region} density histogram can be "
                             f"estimated. With a mask file, use one that leaves solvent "
                             f"inside the boxed region (or turn box_before_analysis off)")
        sd_bins = np.sqrt(smoothing_bins ** 2 + (added_noise_sd / step) ** 2)
        h = gaussian_filter1d(h.astype(np.float64), sd_bins, mode="constant")
        h = np.maximum(h, _TAIL * h.max())
        out.append(DensityHistogram(centres, h / (h.sum() * step)))
    return tuple(out)


def flat_histogram(like: DensityHistogram) -> DensityHistogram:
    """A uniform density over the same grid (the "no molecule histogram" ablation)."""
    d = np.full_like(like.density, 1.0 / (like.step * len(like.centres)))
    return DensityHistogram(like.centres, d)
