"""The supplied model: what is read, and the checks that it belongs to the map."""
import numpy as np
import pytest

from resolvecryoem.core.errors import InputError
from resolvecryoem.core.models import stage
from resolvecryoem.core.models import structure as mst
from resolvecryoem.core.symmetry import operators_about, point_group

from ._models_case import BOX, RESOLUTION, VOXEL, small_case

PDB = """\
ATOM      1  N   ALA A   1       1.000   1.000   1.000  1.00 20.00           N
ATOM      2  CA  ALA A   1       2.458   1.000   1.000  1.00 20.00           C
ATOM      3  H   ALA A   1       0.500   0.200   1.000  1.00 20.00           H
ATOM      4  C  AALA A   1       3.009   2.420   1.000  0.60 20.00           C
ATOM      5  C  BALA A   1       3.009   2.420   1.500  0.40 20.00           C
HETATM    6  O   HOH A 101      10.000  10.000  10.000  1.00 30.00           O
HETATM    7  C1  LIG A 102      12.000  10.000  10.000  1.00 30.00           C
END
"""


def test_reads_polymer_atoms_first_altloc_no_h_water_ligand(tmp_path):
    p = tmp_path / "m.pdb"
    p.write_text(PDB)
    atoms = mst.atoms_of(mst.read_structure(p))
    assert atoms.n == 3                       # N, CA, one C: no H, water, ligand, altloc B
    assert np.allclose(atoms.xyz[2], (3.009, 2.420, 1.0))
    assert list(atoms.z) == [7, 6, 6]


def test_empty_or_unreadable_model_names_the_file(tmp_path):
    p = tmp_path / "water.pdb"
    p.write_text("HETATM    6  O   HOH A 101      10.000  10.000  10.000  1.00 30.00   O\nEND\n")
    with pytest.raises(InputError, match="water.pdb"):
        mst.read_structure(p)
    q = tmp_path / "junk.cif"
    q.write_text("this is not a model\n")
    with pytest.raises(InputError, match="junk.cif"):
        mst.read_structure(q)


def test_model_outside_the_box_names_file_and_offset():
    st, atoms, truth, *_ , start = small_case()
    far = atoms.xyz + np.array([500.0, 0, 0])
    with pytest.raises(InputError, match=r"model\.cif.*wholly outside.*offset by \(500"):
        mst.check_fits_box(far, truth.shape, VOXEL, start, "model.cif")


def test_model_in_the_frame_of_voxel_zero_gets_the_origin_hint():
    st, atoms, truth, *_ , start = small_case()
    # Written relative to the map's first voxel (the map's origin forgotten).
    shifted = atoms.xyz - start[::-1]
    with pytest.raises(InputError, match="adding the map's start"):
        mst.check_fits_box(shifted, truth.shape, VOXEL, start, "model.cif")
    assert mst.check_fits_box(atoms.xyz, truth.shape, VOXEL, start, "model.cif") == 1.0


def test_poor_fit_warning_with_correlation():
    st, atoms, truth, h1, h2, voxel, start = small_case()
    good = mst.fit_correlation(atoms.xyz, atoms.z, 0.5 * (h1 + h2), voxel, start, RESOLUTION)
    noise = np.random.default_rng(0).standard_normal(truth.shape).astype(np.float32)
    bad = mst.fit_correlation(atoms.xyz, atoms.z, noise, voxel, start, RESOLUTION)
    assert good > 0.6 and mst.poor_fit_warning(good) is None
    assert bad < 0.3 and "correlation" in mst.poor_fit_warning(bad, "m.cif")


def test_symmetry_expansion_applies_operators():
    st, atoms, truth, *_ , start = small_case()
    centre = start[::-1] + 0.5 * BOX * VOXEL
    ops = operators_about(point_group("C2"), centre)
    big = mst.expand_symmetry(st, ops)
    a2 = mst.atoms_of(big)
    assert a2.n == 2 * atoms.n and len(big[0]) == 2
    R, t = ops[1]
    assert np.allclose(a2.xyz[atoms.n:], atoms.xyz @ R.T + t, atol=1e-3)


def test_load_model_expands_and_checks(tmp_path):
    st, atoms, truth, h1, h2, voxel, start = small_case()
    p = tmp_path / "m.cif"
    mst.write_structure(st, p)
    m = stage.load_model(p, 0.5 * (h1 + h2), voxel, start, RESOLUTION)
    assert m.atoms.n == atoms.n and m.warnings == []
    ops = operators_about(point_group("C2"), start[::-1] + 0.5 * BOX * VOXEL)
    assert stage.load_model(p, 0.5 * (h1 + h2), voxel, start, RESOLUTION,
                            operators=ops).atoms.n == 2 * atoms.n
    # A later step reloads the checked model without a map.
    again = stage.load_model(p, None, voxel, start, RESOLUTION)
    assert np.array_equal(again.atoms.xyz, m.atoms.xyz)
    # A model far off the map is refused, naming the file.
    far = tmp_path / "far.cif"
    mst.write_structure(mst.with_coordinates(st, atoms.xyz + 300.0), far)
    with pytest.raises(InputError, match="far.cif"):
        stage.load_model(far, 0.5 * (h1 + h2), voxel, start, RESOLUTION)


def test_model_larger_than_the_map_says_so():
    st, atoms, truth, *_ , start = small_case()
    # Half the atoms pushed 200 A away: a model of a bigger complex than the map shows.
    xyz = atoms.xyz.copy()
    xyz[: atoms.n // 2] += 200.0
    with pytest.raises(InputError, match="only 5[0-9]% inside.*larger than the map"):
        mst.check_fits_box(xyz, truth.shape, VOXEL, start, "complex.cif")


def test_nucleic_acids_and_several_chains_are_kept(tmp_path):
    p = tmp_path / "na.pdb"
    p.write_text(
        "ATOM      1  P    DA B   1       5.000   5.000   5.000  1.00 20.00           P\n"
        "ATOM      2  OP1  DA B   1       6.000   5.000   5.000  1.00 20.00           O\n"
        "ATOM      3  N   GLY A   1       1.000   1.000   1.000  1.00 20.00           N\n"
        "ATOM      4  CA  GLY A   1       2.458   1.000   1.000  1.00 20.00           C\n"
        "END\n")
    atoms = mst.atoms_of(mst.read_structure(p))
    assert atoms.n == 4 and len(set(atoms.chain)) == 2 and 15 in atoms.z


def test_near_mask_is_the_distance_transform_threshold():
    from scipy import ndimage
    rng = np.random.default_rng(1)
    shape, voxel, start = (30, 34, 37), np.array([1.0, 1.3, 0.9]), np.array([0.5, -1.0, 2.0])
    xyz = rng.uniform(-4, 40, (300, 3))  # some outside the box
    idx = np.rint((xyz[:, ::-1] - start) / voxel).astype(int)
    ok = np.all((idx >= 0) & (idx < np.array(shape)), axis=1)
    atoms = np.zeros(shape, bool)
    atoms[tuple(idx[ok].T)] = True
    for radius in (1.0, 2.6, 3.0):
        expected = ndimage.distance_transform_edt(~atoms, sampling=voxel) <= radius
        assert np.array_equal(mst.near_mask(xyz, shape, voxel, start, radius), expected)
    assert not mst.near_mask(xyz[:0], shape, voxel, start, 3.0).any()
