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
from .structure import Atoms, fit_correlation, fit_smoothed

# Gaussian low-pass for refinement: exp(-B s^2 / 4) with B = BLUR_RATIO * resolution^2
# (1/e^{0.5} at s = 1/resolution for ratio 2).
BLUR_RATIO = 2.0
W_GEO = 0.3
# Spline order of the map interpolation (value and gradient maps alike).
SPLINE_ORDER = 2
# Convergence: an L-BFGS iteration that improves the objective by less than FTOL of its
# value ends the refinement (at most MAX_ITER iterations).  With residue and chain
# translations among the variables (refine_coordinates) a copy of a well-placed model stops
# after 20-25 iterations, once the randomised start's geometry is restored and the atoms have
# settled into the density (1AKE at 3.5 A, perfect model: 0.18 A from the truth), and a
# displaced one is back in its density as fast; the delivered map is as good as after the 100
# iterations used before (benchmarks/model_bench.py, 1AKE and 5ME2).
FTOL = 1e-3
MAX_ITER = 100


@dataclass
class RefinementMap:
    """A half map prepared for refinement: spline coefficients of the low-passed, normalised
    map and of its three gradient components (d/dx, d/dy, d/dz, per A)."""

    coeffs: list
    voxel_zyx: np.ndarray
    start_zyx: np.ndarray
    shape: tuple
    blur_B: float
    fit_smooth: np.ndarray | None = None  # the map as fit_correlation compares it

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
    precompute the spline coefficients of the map and its gradient (and the map smoothed as
    fit_correlation compares it, for every copy's figure)."""
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
    return RefinementMap(coeffs, voxel, np.asarray(start_A, np.float64), shape, B,
                         fit_smoothed(rho, voxel, resolution_A))


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
                       restraints: Restraints, w_geo: float = W_GEO, max_iter: int = MAX_ITER,
                       nonbonded=None, ftol: float | None = None, groups=()):
    """L-BFGS of  -sum w_a rho(x_a) + w_geo (E_geo + E_repulsion)  over all coordinates;
    returns (xyz, info).  ``nonbonded``: pairs for the repulsion (none when None).

    ``groups``: per-atom group indices (e.g. residue, chain); each group also gets a
    translation of its own, added to its atoms' own shifts (x_a = x0_a + d_a + sum_g t_g(a)).
    The redundant variables change no minimum, but let L-BFGS move a residue or a chain as
    one: the stiff geometry restraints make collective moves of single atoms converge
    very slowly (a model displaced by 1 A was still 0.4 A off after 80 iterations; with
    residue and chain translations it is back in 16).  Stops when an iteration improves the
    objective by less than ``ftol`` (default FTOL) of its value, or after ``max_iter``
    iterations."""
    n = len(xyz0)
    groups = [np.asarray(g, np.int64) for g in groups]
    counts = [int(g.max()) + 1 if len(g) else 0 for g in groups]

    def positions(p):
        xyz = xyz0 + p[:3 * n].reshape(n, 3)
        o = 3 * n
        for g, k in zip(groups, counts):
            xyz = xyz + p[o:o + 3 * k].reshape(k, 3)[g]
            o += 3 * k
        return xyz

    def fg(p):
        xyz = positions(p)
        v, gx, gy, gz = rmap.sample(xyz)
        e_geo, g_geo = energy_and_gradient(xyz, restraints)
        if nonbonded is not None:
            e_rep, g_rep = repulsion_and_gradient(xyz, nonbonded)
            e_geo, g_geo = e_geo + e_rep, g_geo + g_rep
        f = -float(np.dot(weights, v)) + w_geo * e_geo
        g = -np.stack([gx, gy, gz], axis=1) * weights[:, None] + w_geo * g_geo
        # A group's translation moves its atoms alike: its gradient is the sum of theirs.
        parts = [g.ravel()] + [np.stack([np.bincount(gi, g[:, c], k) for c in range(3)],
                                        axis=1).ravel() for gi, k in zip(groups, counts)]
        return f, np.concatenate(parts)

    p0 = np.zeros(3 * (n + sum(counts)))
    res = scipy.optimize.minimize(fg, p0, jac=True, method="L-BFGS-B",
                                  options={"maxiter": max_iter, "maxcor": 20,
                                           "ftol": FTOL if ftol is None else ftol})
    return positions(res.x), {"iterations": int(res.nit), "evaluations": int(res.nfev)}


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
                rmap: RefinementMap | None = None, max_iter: int | None = None,
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
    xyz, info = refine_coordinates(start, weights, rmap, restraints, w_geo,
                                   MAX_ITER if max_iter is None else max_iter, nonbonded,
                                   groups=(atoms.residue, atoms.chain))
    occ = residue_occupancy(xyz, atoms, weights, rmap)
    rmsd = float(np.sqrt(np.mean(np.sum((xyz - atoms.xyz) ** 2, axis=1))))
    cc = fit_correlation(xyz, atoms.z * occ, rho, voxel_size, start_A, resolution_A,
                         smooth=rmap.fit_smooth)
    figures = dict(info, rmsd_from_start_A=rmsd, bond_rmsd_A=bond_rmsd(xyz, restraints),
                   map_correlation=cc, mean_occupancy=float(occ.mean()),
                   fraction_residues_unsupported=float(np.mean(
                       np.bincount(atoms.residue, occ < 0.5, atoms.n_residues)
                       / np.maximum(np.bincount(atoms.residue, None, atoms.n_residues), 1)
                       > 0.5)),
                   seconds=time.perf_counter() - t0)
    return RefinedCopy(xyz, occ, figures)
