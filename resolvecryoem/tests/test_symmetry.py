"""Symmetry averaged in density modification: operators, averaging, and a C2 dimer."""
import numpy as np
import pytest

from resolvecryoem.core import mapio
from resolvecryoem.core.errors import InputError
from resolvecryoem.core.params import DensityModificationParams
from resolvecryoem.core.pipeline import run
from resolvecryoem.core.scoring import resolution_against_truth
from resolvecryoem.core.simulate import c2_dimer_case
from resolvecryoem.core.symmetry import (average_of_others, box_centre_xyz, operators_about,
                                         ncs_spec_text, point_group, read_ncs_spec)


@pytest.mark.parametrize("symbol,order", [("C1", 1), ("C2", 2), ("C7", 7), ("D3", 6),
                                          ("Dy4", 8), ("T", 12), ("O", 24), ("I", 60)])
def test_point_groups_have_the_right_order_and_are_rotations(symbol, order):
    g = point_group(symbol)
    assert len(g) == order
    for R in g:
        assert np.allclose(R @ R.T, np.eye(3), atol=1e-9) and np.linalg.det(R) > 0


def test_bad_symbols_and_files_are_errors(tmp_path):
    with pytest.raises(InputError, match="C<n>"):
        point_group("X5")
    with pytest.raises(InputError):
        DensityModificationParams(symmetry="Q2")
    f = tmp_path / "bad.ncs_spec"
    f.write_text("nothing here\n")
    with pytest.raises(InputError, match="bad.ncs_spec"):
        read_ncs_spec(f)


def test_average_of_others_reproduces_a_symmetric_map():
    n = 32
    z, y, x = np.indices((n, n, n)).astype(np.float32)
    blob = lambda cx, cy: np.exp(-((x - cx) ** 2 + (y - cy) ** 2 + (z - 16) ** 2) / 8)  # noqa
    rho = (blob(22, 16) + blob(10, 16)).astype(np.float32)  # C2 about z through (16, 16)
    ops = operators_about(point_group("C2"), box_centre_xyz(rho.shape, (1, 1, 1), (0, 0, 0)))
    avg = average_of_others(rho, ops, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    # (index 0 maps to n, outside the box: those voxels take the mean)
    assert np.allclose(avg[1:, 1:, 1:], rho[1:, 1:, 1:], atol=1e-4)
    lopsided = (blob(22, 16) + 0.2 * blob(10, 16)).astype(np.float32)
    assert not np.allclose(average_of_others(lopsided, ops, (1, 1, 1), (0, 0, 0)), lopsided,
                           atol=0.1)


@pytest.fixture(scope="module")
def dimer(tmp_path_factory):
    """Half maps of a C2 dimer of the bundled model about z through the box centre."""
    case = c2_dimer_case(box=64, voxel_size=1.8, resolution_A=5.0, seed=3)
    v, shape = case.voxel_size, case.truth.shape
    c = box_centre_xyz(shape, (v, v, v), case.start_A)
    d = tmp_path_factory.mktemp("dimer")
    info = mapio.map_info(shape, v, case.start_A)
    mapio.write_map(d / "h1.mrc", case.half_map_1, info)
    mapio.write_map(d / "h2.mrc", case.half_map_2, info)
    (d / "c2.ncs_spec").write_text(
        "new_ncs_group\nnew_operator\nrota_matrix 1 0 0\nrota_matrix 0 1 0\nrota_matrix 0 0 1\n"
        "tran_orth 0 0 0\n\nnew_operator\nrota_matrix -1 0 0\nrota_matrix 0 -1 0\n"
        f"rota_matrix 0 0 1\ntran_orth {2 * c[0]} {2 * c[1]} 0\n")
    return dict(dir=d, truth=case.truth, env=case.envelope, voxel=v,
                mass=case.molecular_mass_Da)


def _inside(case, out):
    m, _ = mapio.read_map(out / "denmod_map.mrc")
    return resolution_against_truth(m, case["truth"], case["voxel"], case["env"])


def test_c2_symmetry_improves_a_c2_dimer(dimer, tmp_path):
    d = dimer["dir"]
    run(d / "h1.mrc", d / "h2.mrc", tmp_path / "none",
        DensityModificationParams(molecular_mass=dimer["mass"]), log=None)
    run(d / "h1.mrc", d / "h2.mrc", tmp_path / "c2",
        DensityModificationParams(molecular_mass=dimer["mass"], symmetry="C2"), log=None)
    run(d / "h1.mrc", d / "h2.mrc", tmp_path / "file",
        DensityModificationParams(molecular_mass=dimer["mass"]),
        symmetry_file=d / "c2.ncs_spec", log=None)
    without = _inside(dimer, tmp_path / "none")
    assert _inside(dimer, tmp_path / "c2") < without - 0.05
    assert _inside(dimer, tmp_path / "file") == pytest.approx(_inside(dimer, tmp_path / "c2"),
                                                              abs=0.02)


@pytest.mark.parametrize("symbol,order", [("C70", 70), ("D40", 80), ("Dy13", 26)])
def test_high_order_groups_are_closed_groups_of_distinct_rotations(symbol, order):
    g = point_group(symbol)
    assert len(g) == order
    keys = {tuple(np.round(R, 6).ravel()) for R in g}
    assert len(keys) == order
    rng = np.random.default_rng(0)
    for i, j in rng.integers(0, order, size=(50, 2)):  # closure under products
        assert tuple(np.round(g[i] @ g[j], 6).ravel()) in keys
    assert np.all(np.linalg.det(g) > 0)


@pytest.mark.parametrize("text,where", [
    ("rota_matrix 1 0 0\nrota_matrix 0 1\nrota_matrix 0 0 1\ntran_orth 0 0 0\n", "line 2"),
    ("rota_matrix 1 0 0\nrota_matrix 0 1 0 0\nrota_matrix 0 0 1\ntran_orth 0 0 0\n", "line 2"),
    ("rota_matrix 1 0 0\nrota_matrix 0 1 0\nrota_matrix 0 0 1\ntran_orth 0 nan 0\n", "line 4"),
    ("rota_matrix 1 0 0\nrota_matrix 0 1 0\ntran_orth 0 0 0\n", "line 3"),
    ("rota_matrix 1 0 0\nrota_matrix 0 1 0\nrota_matrix 0 0 1\n", "no tran_orth"),
    ("rota_matrix -1 0 0\nrota_matrix 0 1 0\nrota_matrix 0 0 1\ntran_orth 0 0 0\n", "mirror"),
])
def test_malformed_ncs_spec_names_file_and_line(tmp_path, text, where):
    f = tmp_path / "ops.ncs_spec"
    f.write_text(text)
    with pytest.raises(InputError, match=f"ops.ncs_spec.*{where}"):
        read_ncs_spec(f)


@pytest.mark.parametrize("symbol,order", [("C2", 2), ("D2", 4), ("C3", 3), ("I", 60)])
def test_asymmetric_unit_is_carried_onto_the_others_without_overlap(symbol, order):
    from resolvecryoem.core.symmetry import asymmetric_unit
    n, v = 40, 1.5
    ops = operators_about(point_group(symbol), box_centre_xyz((n,) * 3, (v,) * 3, (0, 0, 0)))
    rng = np.random.default_rng(1)
    weight = rng.random((n, n, n)).astype(np.float32)
    unit = asymmetric_unit(weight, v, (0, 0, 0), ops)
    assert unit.mean() == pytest.approx(1 / order, abs=0.03)
    # Points of the unit (a voxel or more inside it, and inside a sphere the group keeps in
    # the box) go to other units.
    from scipy import ndimage
    idx = np.argwhere(ndimage.binary_erosion(unit))
    xyz = (idx * v)[:, ::-1]
    c = box_centre_xyz((n,) * 3, (v,) * 3, (0, 0, 0))
    xyz = xyz[np.linalg.norm(xyz - c, axis=1) < 0.45 * n * v]
    for R, t in ops[1:]:
        img = np.round(((xyz @ R.T + t)[:, ::-1]) / v).astype(int)
        assert unit[tuple(img.T)].mean() < 0.02


def test_ncs_spec_written_is_read_back(tmp_path):
    """The writer the tests and benchmarks use makes files the reader takes, operator for
    operator (rotations to 1e-6, translations to 1e-4 A)."""
    ops = [(np.eye(3), np.zeros(3))] + [(R, np.array([12.5, -3.25, 40.0]))
                                        for R, _ in operators_about(point_group("C3"),
                                                                    np.zeros(3))[1:]]
    f = tmp_path / "c3.ncs_spec"
    f.write_text(ncs_spec_text(ops))
    back = read_ncs_spec(f)
    assert len(back) == 3
    for (R, t), (R2, t2) in zip(ops, back):
        assert np.allclose(R, R2, atol=1e-6) and np.allclose(t, t2, atol=1e-4)
