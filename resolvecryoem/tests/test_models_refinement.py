"""Real-space refinement of model copies against one half map."""
from dataclasses import replace

import numpy as np

from resolvecryoem.core.models import refinement as rf
from resolvecryoem.core.models import stage
from resolvecryoem.core.models.restraints import (bond_rmsd, distance_restraints,
                                                   energy_and_gradient, nonbonded_pairs,
                                                   repulsion_and_gradient)

from ._models_case import RESOLUTION, rmsd, small_case


def test_restraints_hold_bonds_angles_and_peptide_links():
    st, atoms, *_ = small_case()
    r = distance_restraints(atoms)
    # Every residue's C is restrained to the next residue's N (peptide bond, 1.33 A).
    is_c = atoms.names[r.i] == "C"
    is_n = atoms.names[r.j] == "N"
    links = is_c & is_n & (atoms.residue[r.j] == atoms.residue[r.i] + 1)
    assert links.sum() == atoms.n_residues - 1
    assert np.all(np.abs(r.d0[links] - 1.33) < 0.05)
    assert r.bonds.sum() > atoms.n  # about one bond per atom, plus ring closures
    # Gradients are the derivatives of the energies.
    x = atoms.xyz + np.random.default_rng(1).normal(scale=0.1, size=atoms.xyz.shape)
    e, g = energy_and_gradient(x, r)
    nb = nonbonded_pairs(atoms, r)
    e2, g2 = repulsion_and_gradient(x, nb)
    for k, c in ((7, 0), (100, 2)):
        xp = x.copy()
        xp[k, c] += 1e-6
        assert abs((energy_and_gradient(xp, r)[0] - e) / 1e-6 - g[k, c]) < 1e-3 * max(
            1, abs(g[k, c]))
        assert abs((repulsion_and_gradient(xp, nb)[0] - e2) / 1e-6 - g2[k, c]) < 1e-3 * max(
            1, abs(g2[k, c]))


def test_refinement_moves_a_displaced_copy_back_and_keeps_geometry():
    st, atoms, truth, h1, h2, voxel, start = small_case()
    shifted = replace(atoms, xyz=atoms.xyz + np.array([0.8, -0.6, 0.4]))
    before = rmsd(shifted.xyz, atoms.xyz)
    c = rf.refine_copy(shifted, h1, voxel, start, RESOLUTION, seed=0, shift_A=0.2)
    after = rmsd(c.xyz, atoms.xyz)
    assert after < 0.5 * before, (before, after)
    assert c.figures["bond_rmsd_A"] < 0.02
    assert bond_rmsd(c.xyz, distance_restraints(atoms)) < 0.02


def test_unsupported_residues_fade():
    st, atoms, truth, h1, h2, voxel, start = small_case()
    # Residues 20-24 moved 30 A away: no density there (inside the box's solvent or off it).
    sel = (atoms.residue >= 20) & (atoms.residue < 25)
    xyz = atoms.xyz.copy()
    xyz[sel] += (atoms.xyz[sel].mean(0) - atoms.xyz.mean(0)) / np.linalg.norm(
        atoms.xyz[sel].mean(0) - atoms.xyz.mean(0)) * 12.0
    moved = replace(atoms, xyz=xyz)
    c = rf.refine_copy(moved, h1, voxel, start, RESOLUTION, seed=0)
    assert c.occ[sel].mean() < 0.15 and c.occ[sel].max() < 0.5, c.occ[sel]
    assert np.median(c.occ[~sel]) > 0.8


def test_copies_are_seeded_independent_and_serialise(tmp_path):
    st, atoms, truth, h1, h2, voxel, start = small_case()
    m = stage.Model(st, atoms, "small", [])
    a = stage.refine_one(m, h1, voxel, start, RESOLUTION, half=1, copy=0, seed=3)
    b = stage.refine_one(m, h1, voxel, start, RESOLUTION, half=1, copy=0, seed=3)
    c = stage.refine_one(m, h1, voxel, start, RESOLUTION, half=1, copy=1, seed=3)
    assert np.array_equal(a.xyz, b.xyz)
    assert not np.allclose(a.xyz, c.xyz)
    p = tmp_path / "half1_copy0.cif"
    stage.save_copy(p, m, a)
    back = stage.load_copy(p, m)
    assert np.allclose(back.xyz, a.xyz, atol=1e-3) and np.allclose(back.occ, a.occ, atol=0.01)
    assert back.figures["copy"] == 0 and "map_correlation" in back.figures
    comp = stage.composite_model(m, [a, c], tmp_path / "composite.cif")
    assert (tmp_path / "composite.cif").exists()
    b_iso = np.array([at.b_iso for ch in comp[0] for r in ch for at in r])
    spread = np.mean(np.sum((a.xyz - c.xyz) ** 2, axis=1)) / 4  # per-atom msd about mean
    expected = stage.B_ATOM + 8 * np.pi ** 2 * spread / 3
    assert abs(np.mean(b_iso) - expected) < 0.02 * expected
