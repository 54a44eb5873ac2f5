"""Model density of a set of refined copies (one half map's models) on the map's grid.

Each copy's density: gemmi's electron-scattering density calculator
(:func:`resolvecryoem.core.model_map.model_density`) with the copy's coordinates and per-atom
occupancy (so unsupported residues fade) and one B for every atom (``b_atom``): the shells'
fall-off is set later by the per-shell scale D(s) of :mod:`target`, so per-atom B would only
add noise.  The ensemble keeps every copy's map (for the variance among models after that
per-shell scaling), their mean, and the region near at least ``min_models`` models.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import gemmi
import numpy as np
from scipy import ndimage

from ..model_map import structure_density
from .refinement import RefinedCopy
from .structure import near_mask, with_coordinates  # noqa: F401 (near_mask: API)

B_ATOM = 20.0
# An atom of occupancy below this does not count as a model being present near it: the
# target is not applied around atoms that the half map does not support.
MIN_OCCUPANCY = 0.5


@dataclass
class Ensemble:
    """Densities of k copies (k, z, y, x) float32; ``near_count``: at each voxel, how many
    copies have a supported atom within ``near_A``; ``region``: soft 0..1 weight of the voxels
    near at least ``min_models`` copies."""

    maps: np.ndarray
    near_count: np.ndarray
    region: np.ndarray

    @functools.cached_property
    def mean(self) -> np.ndarray:
        """Mean density over the copies (computed once: the target, its statistics and the
        saved model mean all use it)."""
        return self.maps.mean(axis=0, dtype=np.float64).astype(np.float32)


def copy_density(st: gemmi.Structure, copy: RefinedCopy, shape, voxel_size, start_A,
                 b_atom: float = B_ATOM) -> np.ndarray:
    """Density (z, y, x) float32 of one copy on the given grid."""
    n = len(copy.xyz)
    model = with_coordinates(st, copy.xyz, b=np.full(n, b_atom), occ=copy.occ)
    return structure_density(model, shape, voxel_size, start_A)


def ensemble(st: gemmi.Structure, copies: list, shape, voxel_size, start_A,
             near_A: float = 3.0, min_models: int = 3, b_atom: float = B_ATOM,
             soft_A: float = 2.0) -> Ensemble:
    """Densities of the copies, and where at least ``min_models`` of them are present.
    ``st``: the Structure the copies share, or one Structure per copy (built models)."""
    shape = tuple(int(n) for n in shape)
    maps = np.empty((len(copies),) + shape, np.float32)
    count = np.zeros(shape, np.int16)
    structures = st if isinstance(st, (list, tuple)) else [st] * len(copies)
    for k, (s, c) in enumerate(zip(structures, copies)):
        maps[k] = copy_density(s, c, shape, voxel_size, start_A, b_atom)
        count += near_mask(c.xyz[c.occ >= MIN_OCCUPANCY], shape, voxel_size, start_A, near_A)
    region = (count >= min(min_models, len(copies))).astype(np.float32)
    if soft_A > 0:
        voxel = np.broadcast_to(np.asarray(voxel_size, dtype=np.float64), (3,))
        # Soft edge so the target's weight does not cut the map sharply (it would ring).
        region = np.minimum(region, ndimage.gaussian_filter(region, 0.5 * soft_A / voxel))
    return Ensemble(maps, count, region.astype(np.float32))
