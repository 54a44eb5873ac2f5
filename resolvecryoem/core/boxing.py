"""Boxing: trim the maps to the molecule plus a cushion, and put results back in the input box.

The molecule is found from a low-resolution local-rms map (ALGORITHM.md section 2): the
voxels with the highest local rms amounting to the molecular volume, keeping the connected
regions that hold nearly all of them (isolated noise peaks drop out).  The box is that region
grown by the cushion plus 2 x resolution, with a soft (cosine) edge so that FFTs of the boxed
map see no step.  Results are pasted back into the input box blended across the same edge.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft
from scipy import ndimage

from .fourier import Shells
from .masking import local_rms

# Boxing that keeps more than this fraction of the map saves too little to be worth it.
MAX_KEPT_FRACTION = 0.85


@dataclass
class Box:
    """A sub-box [lower, upper) in voxel indices (z, y, x) with its soft edge weight."""

    lower: np.ndarray
    upper: np.ndarray
    edge_weight: np.ndarray  # float32, boxed shape: 1 inside, cosine to 0 at cut faces
    taper_vox: tuple  # the soft edge's width per axis (voxels), as given to edge_weight

    def to_dict(self) -> dict:
        """The box as recorded in the state and results.json (:meth:`from_dict` rebuilds it,
        soft edge included)."""
        return {"lower": [int(n) for n in self.lower], "upper": [int(n) for n in self.upper],
                "taper_voxels": [int(n) for n in self.taper_vox]}

    @classmethod
    def from_dict(cls, record: dict, full_shape) -> "Box":
        """The box of :meth:`to_dict` in a map of ``full_shape`` (z, y, x)."""
        lower, upper = np.array(record["lower"]), np.array(record["upper"])
        taper = tuple(int(n) for n in record["taper_voxels"])
        shape = tuple(int(n) for n in upper - lower)
        return cls(lower, upper, edge_weight(shape, lower, upper, full_shape, taper), taper)

    @property
    def slices(self) -> tuple:
        return tuple(slice(int(a), int(b)) for a, b in zip(self.lower, self.upper))

    @property
    def shape(self) -> tuple:
        return tuple(int(b - a) for a, b in zip(self.lower, self.upper))


def edge_weight(shape, lower, upper, full_shape, width_vox) -> np.ndarray:
    """Product of 1-D cosine tapers over ``width_vox`` voxels at each face that cuts the map;
    faces on the map's own faces keep weight 1 (nothing outside to blend with)."""
    profiles = []
    for n, lo, hi, full, w in zip(shape, lower, upper, full_shape, width_vox):
        p = np.ones(n, np.float32)
        w = int(max(1, min(w, n // 4)))
        ramp = 0.5 * (1 - np.cos(np.pi * (np.arange(w) + 0.5) / w)).astype(np.float32)
        if lo > 0:
            p[:w] = ramp
        if hi < full:
            p[n - w:] = np.minimum(p[n - w:], ramp[::-1])
        profiles.append(p)
    return (profiles[0][:, None, None] * profiles[1][None, :, None]
            * profiles[2][None, None, :]).astype(np.float32)


def find_box(avg_map: np.ndarray, voxel_size, molecular_volume_A3: float,
             resolution_A: float, cushion_A: float = 5.0, threads: int = 1) -> Box | None:
    """Box around the molecule, or None when it would keep most of the map."""
    voxel = np.broadcast_to(np.asarray(voxel_size, dtype=np.float64), (3,))
    shells = Shells.for_box(avg_map.shape, voxel)
    lrms = local_rms(avg_map, shells, max(2.0 * resolution_A, 6.0), threads)
    n_keep = int(np.clip(molecular_volume_A3 / np.prod(voxel), 1, avg_map.size - 1))
    threshold = np.partition(lrms.ravel(), avg_map.size - n_keep)[avg_map.size - n_keep]
    region = lrms >= threshold
    labels, n = ndimage.label(region)
    if n > 1:
        sizes = np.bincount(labels.ravel())[1:]
        order = np.argsort(sizes)[::-1]
        keep_n = int(np.searchsorted(np.cumsum(sizes[order]), 0.95 * sizes.sum()) + 1)
        region = np.isin(labels, order[:keep_n] + 1)
    idx = np.nonzero(region)
    taper_vox = np.ceil(2.0 * resolution_A / voxel).astype(int)
    margin = np.ceil((cushion_A + 2.0 * resolution_A) / voxel).astype(int) + taper_vox
    lower = np.array([int(i.min()) for i in idx]) - margin
    upper = np.array([int(i.max()) + 1 for i in idx]) + margin
    full = np.array(avg_map.shape)
    for ax in range(3):
        # FFT-friendly edge length, centred on the molecule, inside the map.
        n = min(scipy.fft.next_fast_len(int(upper[ax] - lower[ax]), real=True), full[ax])
        centre = 0.5 * (lower[ax] + upper[ax])
        lo = int(np.clip(round(centre - n / 2), 0, full[ax] - n))
        lower[ax], upper[ax] = lo, lo + n
    shape = tuple(int(n) for n in upper - lower)
    if np.prod(shape) > MAX_KEPT_FRACTION * avg_map.size:
        return None
    taper = tuple(int(n) for n in taper_vox)
    return Box(lower, upper, edge_weight(shape, lower, upper, full, taper), taper)


def cut(rho: np.ndarray, box: Box) -> np.ndarray:
    """The boxed map, tapered toward its mean across the soft edge (float32)."""
    b = np.asarray(rho[box.slices], dtype=np.float32)
    m = np.float32(b.mean(dtype=np.float64))
    return (box.edge_weight * (b - m) + m).astype(np.float32)


def paste(boxed: np.ndarray, background: np.ndarray, box: Box) -> np.ndarray:
    """``background`` with ``boxed`` blended in across the soft edge."""
    out = np.array(background, dtype=np.float32, copy=True)
    sl = box.slices
    w = box.edge_weight
    out[sl] = w * boxed + (1 - w) * out[sl]
    return out
