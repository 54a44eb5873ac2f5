"""The starting model's own geometry as distance restraints (ALGORITHM.md section 9).

Every pair of atoms closer than ``cutoff_A`` (3.0 A) in the same residue or in neighbouring
residues of a chain is restrained to its starting distance: that set holds the 1-2 (bonds),
1-3 (angles) and the short 1-4 distances of planar groups (peptide planes, rings), so bonds,
angles, planarity and chirality are all kept without a dictionary.  Pairs closer than
``link_A`` anywhere (disulfides, other covalent links) are restrained too.  The model's
geometry is assumed sensible; we keep it, we do not idealise it.

Energy: sum ((d - d0) / sigma)^2, sigma by distance class (bond 0.02 A, angle 0.04 A,
others 0.08 A): the usual target values of restrained refinement.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .structure import Atoms

BOND_A = 1.95    # below: a 1-2 distance (S-S and S-C bonds are up to ~2.05)
ANGLE_A = 2.6    # below: 1-3
SIGMA = (0.02, 0.04, 0.08)
NONBONDED_A = 3.0  # closest approach of atoms not restrained to each other


@dataclass
class Restraints:
    i: np.ndarray       # (m,) int
    j: np.ndarray       # (m,) int
    d0: np.ndarray      # (m,) A, starting distance
    sigma: np.ndarray   # (m,) A

    @property
    def bonds(self) -> np.ndarray:
        """Which restraints are 1-2 distances (bonds)."""
        return self.d0 < BOND_A


def distance_restraints(atoms: Atoms, cutoff_A: float = 3.0, link_A: float = 2.2
                        ) -> Restraints:
    """Restraints of :mod:`restraints` from the starting coordinates (vectorised pair search:
    scipy's k-d tree)."""
    xyz = atoms.xyz
    pairs = cKDTree(xyz).query_pairs(cutoff_A, output_type="ndarray")
    if len(pairs) == 0:
        z = np.zeros(0)
        return Restraints(z.astype(int), z.astype(int), z, z)
    i, j = pairs[:, 0], pairs[:, 1]
    d0 = np.linalg.norm(xyz[i] - xyz[j], axis=1)
    same_chain = atoms.chain[i] == atoms.chain[j]
    near_res = same_chain & (np.abs(atoms.seqid[i] - atoms.seqid[j]) <= 1)
    keep = near_res | (d0 < link_A)
    i, j, d0 = i[keep], j[keep], d0[keep]
    sigma = np.where(d0 < BOND_A, SIGMA[0], np.where(d0 < ANGLE_A, SIGMA[1], SIGMA[2]))
    return Restraints(i, j, d0, sigma)


def energy_and_gradient(xyz: np.ndarray, r: Restraints):
    """E = sum ((d - d0) / sigma)^2 and dE/dxyz (n, 3)."""
    # np.take gathers rows 2-3x faster than fancy indexing (called once per L-BFGS step).
    diff = np.take(xyz, r.i, axis=0) - np.take(xyz, r.j, axis=0)
    d = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    dev = (d - r.d0) / r.sigma
    e = float(np.dot(dev, dev))
    coef = 2.0 * dev / (r.sigma * np.maximum(d, 1e-9))
    g_pair = diff * coef[:, None]
    n = len(xyz)
    grad = np.empty_like(xyz)
    for k in range(3):
        grad[:, k] = np.bincount(r.i, g_pair[:, k], n) - np.bincount(r.j, g_pair[:, k], n)
    return e, grad


def nonbonded_pairs(atoms: Atoms, r: Restraints, radius_A: float = 5.0):
    """(pairs (m, 2), closest approach (m,) A): atom pairs within ``radius_A`` not restrained
    to a distance, the candidates for the repulsion (found once: atoms move much less than
    the margin).  Closest approach: NONBONDED_A, or the starting distance when the model
    has them closer (hydrogen bonds, salt bridges)."""
    pairs = cKDTree(atoms.xyz).query_pairs(radius_A, output_type="ndarray").reshape(-1, 2)
    if len(pairs) and len(r.i):
        n = atoms.n
        restrained = np.minimum(r.i, r.j) * n + np.maximum(r.i, r.j)
        key = pairs.min(1) * n + pairs.max(1)
        pairs = pairs[~np.isin(key, restrained)]
    d = np.linalg.norm(atoms.xyz[pairs[:, 0]] - atoms.xyz[pairs[:, 1]], axis=1)
    return pairs, np.minimum(NONBONDED_A, d)


def repulsion_and_gradient(xyz: np.ndarray, nonbonded, sigma_A: float = 0.1):
    """E = sum over pairs closer than their closest approach d_min of ((d_min - d)/sigma)^2,
    and its gradient: keeps atoms that the restraints do not hold from piling into the same
    density.  ``nonbonded``: (pairs, d_min) from :func:`nonbonded_pairs`."""
    pairs, d_min = nonbonded
    if len(pairs) == 0:
        return 0.0, np.zeros_like(xyz)
    i, j = pairs[:, 0], pairs[:, 1]
    diff = np.take(xyz, i, axis=0) - np.take(xyz, j, axis=0)
    d = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    close = d < d_min
    i, j, diff, d = i[close], j[close], diff[close], d[close]
    dev = (d_min[close] - d) / sigma_A
    e = float(np.dot(dev, dev))
    coef = -2.0 * dev / (sigma_A * np.maximum(d, 1e-9))
    g_pair = diff * coef[:, None]
    n = len(xyz)
    grad = np.empty_like(xyz)
    for k in range(3):
        grad[:, k] = np.bincount(i, g_pair[:, k], n) - np.bincount(j, g_pair[:, k], n)
    return e, grad


def bond_rmsd(xyz: np.ndarray, r: Restraints) -> float:
    """RMS departure (A) of the 1-2 distances from their starting values."""
    b = r.bonds
    if not b.any():
        return 0.0
    d = np.linalg.norm(xyz[r.i[b]] - xyz[r.j[b]], axis=1)
    return float(np.sqrt(np.mean((d - r.d0[b]) ** 2)))
