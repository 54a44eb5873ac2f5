"""Real-space refinement of one model copy against ONE half map (ALGORITHM.md section 9).

Coordinates: maximise  sum_a w_a rho(x_a) - w_geo sum_restraints ((d - d0)/sigma)^2  over all
atoms at once with L-BFGS (scipy.optimize), where rho is the half map low-passed with a
Gaussian to about the resolution (so it is smooth, and its pull reaches over about the
resolution) and normalised to unit rms, and w_a = Z_a / 6 (carbon = 1).  The map term's
gradient is the map's gradient at the atoms: the exact derivative of the low-passed map,
computed once in Fourier space, and both value and gradient are cubic-spline interpolated
(scipy.ndimage.map_coordinates); no loop over atoms.

Support: one occupancy per residue, q_r = clip(sum_r rho m / (k sum_r m^2), 0, 1), the least
squares of the residue's model density m (the model's own density, low-passed like the map)
against the map at its atoms, relative to the overall scale k of model to map.  A residue the
half map does not support gets q ~ 0: its density, and so its pull on the target, fades.

Randomised copies start from seeded per-atom shifts (``shift_A`` rms, default 0.3 A).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.optimize
from scipy import ndimage

from ..fourier import frequencies, irfft, rfft
from .restraints import (Restraints, bond_rmsd, distance_restraints, energy_and_gradient,
                         nonbonded_pairs, repulsion_and_gradient)
from .structure import Atoms, fit_correlation

# Gaussian low-pass for refinement: exp(-B s^2 / 4) with B = BLUR_RATIO * resolution^2
# (1/e^{0.5} at s = 1/resolution for ratio 2).
BLUR_RATIO = 2.0
W_GEO = 0.3
# Spline order of the map interpolation (value and gradient maps alike).
SPLINE_ORDER = 2


@dataclass
class RefinementMap:
    """A half map prepared for refinement: spline coefficients of the low-passed, normalised
    map and of its three gradient components (d/dx, d/dy, d/dz, per A)."""

    coeffs: list
    voxel_zyx: np.ndarray
    start_zyx: np.ndarray
    shape: tuple
    blur_B: float

    def indices(self, xyz: np.ndarray) -> np.ndarray:
        """Fractional voxel indices (3, n) in (z, y, x) of points (n, 3) in (x, y, z)."""
        return ((xyz[:, ::-1] - self.start_zyx) / self.voxel_zyx).T

    def sample(self, xyz: np.ndarray, which=(0, 1, 2, 3)) -> list:
        idx = self.indices(xyz)
        return [ndimage.map_coordinates(self.coeffs[k], idx, order=SPLINE_ORDER, mode="nearest",
                                        prefilter=False) for k in which]


def prepare_map(rho: np.ndarray, voxel_size, start_A, resolution_A: float,
                blur_ratio: float = BLUR_RATIO, threads: int = 1) -> RefinementMap:
    """Low-pass (Gaussian, B = blur_ratio d^2), normalise to zero mean and unit rms, and
    precompute the spline coefficients of the map and its gradient."""
    voxel = np.broadcast_to(np.asarray(voxel_size, dtype=np.float64), (3,)).copy()
    shape = rho.shape
    F = rfft(rho, threads)
    fz, fy, fx = frequencies(shape, voxel)
    B = blur_ratio * resolution_A ** 2
    F = F * np.exp(-B * (fz * fz + fy * fy + fx * fx) / 4).astype(np.float32)
    F[0, 0, 0] = 0
    m = irfft(F, shape, threads)
    scale = np.float32(1.0 / max(float(np.sqrt(np.mean(m * m))), 1e-30))
    F *= scale
    two_pi_i = np.complex64(2j * np.pi)
    maps = [m * scale] + [irfft(F * (two_pi_i * f), shape, threads) for f in (fx, fy, fz)]
    coeffs = [ndimage.spline_filter(a, order=SPLINE_ORDER, mode="nearest").astype(np.float32)
              if SPLINE_ORDER > 1 else a for a in maps]
    return RefinementMap(coeffs, voxel, np.asarray(start_A, np.float64), shape, B)


@dataclass
class RefinedCopy:
    """One refined copy: coordinates (n, 3) A, per-atom occupancy (its residue's), figures."""

    xyz: np.ndarray
    occ: np.ndarray
    figures: dict = field(default_factory=dict)


def randomised_start(xyz: np.ndarray, seed, shift_A: float = 0.3) -> np.ndarray:
    """Seeded per-atom Gaussian shifts with rms displacement ``shift_A``; ``seed`` may be a
    tuple (e.g. (seed, half, copy)) so each copy has its own stream."""
    rng = np.random.default_rng(seed)
    return xyz + rng.normal(scale=shift_A / np.sqrt(3.0), size=xyz.shape)


def refine_coordinates(xyz0: np.ndarray, weights: np.ndarray, rmap: RefinementMap,
                       restraints: Restraints, w_geo: float = W_GEO, max_iter: int = 200,
                       nonbonded=None):
    """L-BFGS of  -sum w_a rho(x_a) + w_geo (E_geo + E_repulsion)  over all coordinates;
    returns (xyz, info).  ``nonbonded``: pairs for the repulsion (none when None)."""
    n = len(xyz0)

    def fg(x):
        xyz = x.reshape(n, 3)
        v, gx, gy, gz = rmap.sample(xyz)
        e_geo, g_geo = energy_and_gradient(xyz, restraints)
        if nonbonded is not None:
            e_rep, g_rep = repulsion_and_gradient(xyz, nonbonded)
            e_geo, g_geo = e_geo + e_rep, g_geo + g_rep
        f = -float(np.dot(weights, v)) + w_geo * e_geo
        g = -np.stack([gx, gy, gz], axis=1) * weights[:, None] + w_geo * g_geo
        return f, g.ravel()

    res = scipy.optimize.minimize(fg, xyz0.ravel(), jac=True, method="L-BFGS-B",
                                  options={"maxiter": max_iter, "maxcor": 20})
    return res.x.reshape(n, 3), {"iterations": int(res.nit), "evaluations": int(res.nfev)}


def model_values_at_atoms(xyz, weights, rmap: RefinementMap, b_atom: float = 20.0):
    """The model's own density, low-passed like the map, at its atoms (per atom), from
    Z-weighted Gaussians (B = b_atom + blur) summed over neighbours within 3 sigma (k-d tree
    pairs: vectorised)."""
    from scipy.spatial import cKDTree
    B = b_atom + rmap.blur_B
    # A Gaussian atom of B has density exp(-4 pi^2 r^2 / B) (unnormalised: a common scale).
    var = B / (8 * np.pi ** 2)
    cut = 3.0 * np.sqrt(var)
    pairs = cKDTree(xyz).query_pairs(cut, output_type="ndarray")
    out = weights.astype(np.float64).copy()
    if len(pairs):
        i, j = pairs[:, 0], pairs[:, 1]
        r2 = np.sum((xyz[i] - xyz[j]) ** 2, axis=1)
        g = np.exp(-0.5 * r2 / var)
        out += np.bincount(i, weights[j] * g, len(xyz)) + np.bincount(j, weights[i] * g,
                                                                      len(xyz))
    return out


def residue_occupancy(xyz, atoms: Atoms, weights, rmap: RefinementMap) -> np.ndarray:
    """Per-residue occupancy in [0, 1] (see the module docstring), returned per atom."""
    rho = rmap.sample(xyz, which=(0,))[0].astype(np.float64)
    m = model_values_at_atoms(xyz, weights, rmap)
    k = max(float(np.dot(rho, m) / max(np.dot(m, m), 1e-30)), 1e-30)
    nr = atoms.n_residues
    num = np.bincount(atoms.residue, rho * m, nr)
    den = np.bincount(atoms.residue, m * m, nr)
    q = np.clip(num / np.maximum(k * den, 1e-30), 0.0, 1.0)
    return q[atoms.residue]


def refine_copy(atoms: Atoms, rho: np.ndarray, voxel_size, start_A, resolution_A: float,
                seed, shift_A: float = 0.3, w_geo: float = W_GEO, restraints=None,
                rmap: RefinementMap | None = None, max_iter: int = 100,
                nonbonded=None, threads: int = 1) -> RefinedCopy:
    """One randomised copy of the model refined against ONE half map ``rho`` (z, y, x)."""
    t0 = time.perf_counter()
    if restraints is None:
        restraints = distance_restraints(atoms)
    if nonbonded is None:
        nonbonded = nonbonded_pairs(atoms, restraints)
    if rmap is None:
        rmap = prepare_map(rho, voxel_size, start_A, resolution_A, threads=threads)
    weights = atoms.z.astype(np.float64) / 6.0
    start = randomised_start(atoms.xyz, seed, shift_A)
    xyz, info = refine_coordinates(start, weights, rmap, restraints, w_geo, max_iter,
                                   nonbonded)
    occ = residue_occupancy(xyz, atoms, weights, rmap)
    rmsd = float(np.sqrt(np.mean(np.sum((xyz - atoms.xyz) ** 2, axis=1))))
    cc = fit_correlation(xyz, atoms.z * occ, rho, voxel_size, start_A, resolution_A)
    figures = dict(info, rmsd_from_start_A=rmsd, bond_rmsd_A=bond_rmsd(xyz, restraints),
                   map_correlation=cc, mean_occupancy=float(occ.mean()),
                   fraction_residues_unsupported=float(np.mean(
                       np.bincount(atoms.residue, occ < 0.5, atoms.n_residues)
                       / np.maximum(np.bincount(atoms.residue, None, atoms.n_residues), 1)
                       > 0.5)),
                   seconds=time.perf_counter() - t0)
    return RefinedCopy(xyz, occ, figures)
