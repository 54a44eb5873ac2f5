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

    def evaluate(self, rho: np.ndarray, where=None, tables=None):
        """(p, p', p'') at map values ``rho`` (float32 arrays of rho's shape).

        Linear interpolation on the grid; values beyond the grid take the end values.
        ``where`` is a precomputed :func:`grid_position` of rho on the same grid (histograms
        sharing a grid then share the costly index computation); ``tables`` precomputed
        :meth:`tables` (for evaluating piece by piece).
        """
        i, t = grid_position(rho, self.centres) if where is None else where
        out = []
        for tab, step in (self.tables() if tables is None else tables):
            lo = np.take(tab, i)
            lo += t * np.take(step, i)
            out.append(lo)
        return out

    def mean(self) -> float:
        return float(np.sum(self.centres * self.density) * self.step)

    def variance(self) -> float:
        m = self.mean()
        return float(np.sum((self.centres - m) ** 2 * self.density) * self.step)


def grid_position(rho: np.ndarray, centres: np.ndarray):
    """(index, fraction) of each value on a uniform grid, clipped to the grid."""
    x = (rho - np.float32(centres[0])) * np.float32(1.0 / (centres[1] - centres[0]))
    np.clip(x, 0, len(centres) - 1.0001, out=x)
    i = x.astype(np.intp)  # intp: np.take would convert any other index type on every call
    x -= i
    return i, x


def density_histograms(rho: np.ndarray, p_molecule: np.ndarray, added_noise_sd: float,
                       value_range: tuple | None = None, n_bins: int = _N_BINS,
                       smoothing_bins: float = 1.5):
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
    """
    lo, hi = (float(rho.min()), float(rho.max())) if value_range is None else value_range
    pad = 6.0 * added_noise_sd + 0.1 * (hi - lo)
    edges = np.linspace(lo - pad, hi + pad, n_bins + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    step = edges[1] - edges[0]
    # Bin index by arithmetic + bincount (np.histogram sorts when given weights), a piece at
    # a time: indices and weights are 64-bit in bincount.
    r, pm = rho.reshape(-1), p_molecule.reshape(-1)
    sizes = {"solvent": 0.0, "molecule": 0.0}
    counts = {"solvent": np.zeros(n_bins), "molecule": np.zeros(n_bins)}
    for lo in range(0, r.size, 1 << 20):
        sl = slice(lo, lo + (1 << 20))
        i = np.clip(((r[sl] - edges[0]) / step).astype(np.intp), 0, n_bins - 1)
        ws, wm = 1.0 - pm[sl], pm[sl]
        sizes["solvent"] += float(np.sum(ws, dtype=np.float64))
        sizes["molecule"] += float(np.sum(wm, dtype=np.float64))
        # the solvent histogram from confidently solvent voxels only
        counts["solvent"] += np.bincount(i, weights=ws ** _SOLVENT_CONFIDENCE_POWER,
                                         minlength=n_bins)
        counts["molecule"] += np.bincount(i, weights=wm, minlength=n_bins)
    out = []
    for region in ("solvent", "molecule"):
        size = sizes[region]
        if not size >= MIN_REGION_VOXELS:
            raise InputError(f"the {region} region of the analysed box is (nearly) empty "
                             f"({size:.0f} voxels): no {region} density histogram can be "
                             f"estimated. With a mask file, use one that leaves solvent "
                             f"inside the boxed region (or turn box_before_analysis off)")
        h = counts[region]
        sd_bins = np.sqrt(smoothing_bins ** 2 + (added_noise_sd / step) ** 2)
        h = gaussian_filter1d(h.astype(np.float64), sd_bins, mode="constant")
        h = np.maximum(h, _TAIL * h.max())
        out.append(DensityHistogram(centres, h / (h.sum() * step)))
    return tuple(out)


def flat_histogram(like: DensityHistogram) -> DensityHistogram:
    """A uniform density over the same grid (the "no molecule histogram" ablation)."""
    d = np.full_like(like.density, 1.0 / (like.step * len(like.centres)))
    return DensityHistogram(like.centres, d)
