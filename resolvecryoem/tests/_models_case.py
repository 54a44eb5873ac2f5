"""A small case with known truth for the model tests: the first residues of the bundled
adenylate kinase model, its density on a 48^3 grid and simulated half maps."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from resolvecryoem.core.model_map import model_density
from resolvecryoem.core.models import structure as mst
from resolvecryoem.core.simulate import bundled_model, c2_dimer_model, simulate_half_maps
from resolvecryoem.core.symmetry import box_centre_xyz

BOX = 48
VOXEL = 1.2
RESOLUTION = 3.5
N_RESIDUES = 50


@lru_cache(maxsize=None)
def small_case(seed: int = 0):
    """(structure, atoms, truth, half1, half2, voxel, start_zyx) of the first N_RESIDUES."""
    st = mst.read_structure(bundled_model())
    ch = st[0][0]
    for i in reversed(range(N_RESIDUES, len(ch))):
        del ch[i]
    st.setup_entities()
    atoms = mst.atoms_of(st)
    centre = 0.5 * (atoms.xyz.min(0) + atoms.xyz.max(0))
    start = (centre[::-1] - 0.5 * BOX * VOXEL).round(2)
    truth = model_density(st, (BOX,) * 3, VOXEL, start)
    h1, h2, _ = simulate_half_maps(truth, VOXEL, RESOLUTION, seed=seed)
    return st, atoms, truth, h1, h2, VOXEL, start


def rmsd(a, b) -> float:
    return float(np.sqrt(np.mean(np.sum((a - b) ** 2, axis=1))))


DIMER_BOX = 64


@lru_cache(maxsize=None)
def dimer_case(seed: int = 0):
    """A C2 dimer of the N_RESIDUES fragment about z through the centre of a DIMER_BOX^3 box:
    (dimer structure, truth, half1, half2, voxel, start_zyx, operators [(R, t)] in x, y, z)."""
    n = DIMER_BOX
    start = np.zeros(3)
    st = c2_dimer_model((n,) * 3, VOXEL, model=small_case()[0])
    st.setup_entities()
    c = box_centre_xyz((n,) * 3, (VOXEL,) * 3, start)
    R = np.diag([-1.0, -1.0, 1.0])
    t = c - R @ c
    truth = model_density(st, (n,) * 3, VOXEL, start)
    h1, h2, _ = simulate_half_maps(truth, VOXEL, RESOLUTION, seed=seed)
    return st, truth, h1, h2, VOXEL, start, [(np.eye(3), np.zeros(3)), (R, t)]
