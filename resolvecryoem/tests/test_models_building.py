"""The automatic builder: main chain where a simulated 3 A map of 1AKE has it, ideal geometry,
inside the box, bounded by the sequence, deterministic."""
import numpy as np
import pytest

from resolvecryoem.core.model_map import atom_positions, model_density, read_model
from resolvecryoem.core.models import ideal
from resolvecryoem.core.models.building import build_model
from resolvecryoem.core.models.trace_metrics import ca_chains, compare_ca
from resolvecryoem.core.simulate import bundled_model, simulate_half_maps


@pytest.fixture(scope="module")
def adk_3A():
    path = bundled_model()
    xyz = atom_positions(path)
    voxel, n = 1.0, 72
    start = 0.5 * (xyz.max(0) + xyz.min(0))[::-1] - 0.5 * n * voxel
    truth = model_density(path, (n, n, n), voxel, start)
    h1, h2, _ = simulate_half_maps(truth, voxel, 3.0, seed=1)
    return 0.5 * (h1 + h2), voxel, start, read_model(path)


@pytest.fixture(scope="module")
def adk_build(adk_3A):
    avg, voxel, start, dep = adk_3A
    return build_model(avg, voxel, start, 3.0, n_residues_max=214, seed=0)


def _atoms(st, name):
    return [np.array([r.find_atom(name, "*").pos.tolist() for r in ch]) for ch in st[0]
            if ch[0].name == "ALA"]


def test_main_chain_found_on_a_simulated_3A_map(adk_build, adk_3A):
    st, fig = adk_build
    cmp = compare_ca(st, adk_3A[3])
    assert cmp["within_3A"] >= 0.8, cmp
    assert cmp["within_1.5A"] >= 0.35, cmp
    assert cmp["built_within_3A"] >= 0.8, cmp
    assert fig["residues"] == cmp["built_ca"] <= 214


def test_built_backbone_has_ideal_geometry(adk_build):
    st, _ = adk_build
    n, ca, c, o, cb = (_atoms(st, k) for k in ("N", "CA", "C", "O", "CB"))
    for chain in range(len(ca)):
        assert len(ca[chain]) >= 3
        d = lambda a, b: np.linalg.norm(a[chain] - b[chain], axis=1)  # noqa: E731
        np.testing.assert_allclose(np.linalg.norm(np.diff(ca[chain], axis=0), axis=1),
                                   ideal.CA_CA, atol=0.01)
        np.testing.assert_allclose(d(n, ca), ideal.N_CA, atol=0.01)
        np.testing.assert_allclose(d(ca, c), ideal.CA_C, atol=0.01)
        np.testing.assert_allclose(d(c, o), ideal.C_O, atol=0.01)
        np.testing.assert_allclose(d(ca, cb), ideal.CA_CB, atol=0.01)
        np.testing.assert_allclose(np.linalg.norm(n[chain][1:] - c[chain][:-1], axis=1),
                                   ideal.C_N, atol=0.01)
        # L chirality: C-beta on the side given by the improper N-C-CA-CB.
        v = np.einsum("ij,ij->i", np.cross(n[chain] - ca[chain], c[chain] - ca[chain]),
                      cb[chain] - ca[chain])
        assert np.all(v > 0)


def test_main_chain_from_true_c_alpha_lands_on_the_true_atoms():
    st = read_model(bundled_model())
    res = [r for r in st[0][0] if all(r.find_atom(k, "*") for k in ("N", "CA", "C", "O"))]
    true = {k: np.array([r.find_atom(k, "*").pos.tolist() for r in res])
            for k in ("N", "CA", "C", "O")}
    mc = ideal.main_chain_from_ca(true["CA"])
    for k, tol in (("N", 0.2), ("C", 0.2), ("O", 0.5)):
        assert np.median(np.linalg.norm(mc[k] - true[k], axis=1)) < tol, k
    # The same chirality test as for built chains holds for the deposited L residues.
    cbs = [r for r in res if r.find_atom("CB", "*")]
    g = {k: np.array([r.find_atom(k, "*").pos.tolist() for r in cbs])
         for k in ("N", "CA", "C", "CB")}
    v = np.einsum("ij,ij->i", np.cross(g["N"] - g["CA"], g["C"] - g["CA"]), g["CB"] - g["CA"])
    assert np.all(v > 0)


def test_all_atoms_inside_the_box(adk_build, adk_3A):
    st, _ = adk_build
    avg, voxel, start, _ = adk_3A
    xyz = np.array([a.pos.tolist() for ch in st[0] for r in ch for a in r])
    lo = start[::-1]
    hi = lo + (np.array(avg.shape[::-1]) - 1) * voxel
    assert np.all(xyz >= lo) and np.all(xyz <= hi)


def test_deterministic_for_a_seed_and_bounded_by_the_sequence(adk_3A, adk_build):
    avg, voxel, start, _ = adk_3A
    st, fig = build_model(avg, voxel, start, 3.0, n_residues_max=214, seed=0)
    xyz = np.vstack(ca_chains(st))
    np.testing.assert_array_equal(xyz, np.vstack(ca_chains(adk_build[0])))
    # Another seed samples other directions: another model, as good.
    st1, _ = build_model(avg, voxel, start, 3.0, n_residues_max=214, seed=1)
    assert not np.array_equal(np.vstack(ca_chains(st1))[:20], xyz[:20])
    assert compare_ca(st1, adk_3A[3])["within_3A"] >= 0.8
    st50, fig50 = build_model(avg, voxel, start, 3.0, n_residues_max=50, seed=0)
    assert fig50["residues"] <= 50
    assert sum(len(c) for c in ca_chains(st50)) == fig50["residues"]


def test_builds_without_a_sequence(adk_3A):
    avg, voxel, start, dep = adk_3A
    st, fig = build_model(avg, voxel, start, 3.0, n_residues_max=None, seed=0)
    cmp = compare_ca(st, dep)
    assert cmp["within_3A"] >= 0.8, cmp
    assert fig["residues"] <= 2 * 214, fig


def test_pure_noise_builds_little():
    rng = np.random.default_rng(0)
    from scipy import ndimage
    noise = ndimage.gaussian_filter(rng.standard_normal((48, 48, 48)), 1.0).astype(np.float32)
    st, fig = build_model(noise, 1.0, (0, 0, 0), 3.0, seed=0)
    assert fig["residues"] <= 10, fig
    # A residue count does not make it trace noise either.
    st, fig = build_model(noise, 1.0, (0, 0, 0), 3.0, n_residues_max=100, seed=0)
    assert fig["residues"] <= 10 and fig["pseudo_atoms"] <= 20, fig


def test_non_cubic_box_with_unequal_voxels():
    """Axis order and per-axis voxel sizes: (z, y, x) arrays, atoms written in x, y, z."""
    path = bundled_model()
    xyz = atom_positions(path)
    voxel = np.array([1.1, 1.0, 0.95])               # (vz, vy, vx)
    shape = (60, 68, 76)
    start = 0.5 * (xyz.max(0) + xyz.min(0))[::-1] - 0.5 * np.array(shape) * voxel
    truth = model_density(path, shape, voxel, start)
    h1, h2, _ = simulate_half_maps(truth, voxel, 3.0, seed=2)
    st, fig = build_model(0.5 * (h1 + h2), voxel, start, 3.0, n_residues_max=214, seed=0)
    cmp = compare_ca(st, read_model(path))
    assert cmp["within_3A"] >= 0.8, cmp
    atoms = np.array([a.pos.tolist() for ch in st[0] for r in ch for a in r])[:, ::-1]
    assert np.all(atoms >= start) and np.all(atoms <= start + (np.array(shape) - 1) * voxel)


def test_flat_map_builds_nothing():
    st, fig = build_model(np.zeros((32, 32, 32), np.float32), 1.0, (0, 0, 0), 3.0,
                          n_residues_max=100)
    assert fig["residues"] == 0 and fig["pseudo_atoms"] == 0
    assert st[0].count_atom_sites() == 0


def test_helices_recognised_and_made_ideal():
    from resolvecryoem.core.models import secondary
    helix = ideal.ideal_backbone(ideal.HELIX_PHI_PSI, 12)["CA"]
    strand = ideal.ideal_backbone(ideal.STRAND_PHI_PSI, 12)["CA"]
    assert secondary.helical_runs(helix) == [(0, 12)]
    assert secondary.helical_runs(strand) == []
    assert secondary.helical_runs(strand, **secondary.STRAND) == [(0, 12)]
    assert secondary.helical_runs(helix, **secondary.STRAND) == []
    assert secondary.helical_runs(helix[:, ::-1]) == []     # mirror image: left-handed
    # A noisy helix between two strand pieces: the helix becomes ideal, spacing stays 3.8 A.
    rng = np.random.default_rng(0)
    noisy = helix + rng.normal(0, 0.25, helix.shape)
    trace = np.vstack([strand[:5] - strand[5] + noisy[0] - (strand[1] - strand[0]),
                       noisy])
    out, n_helix, n_strand = secondary.regularise(trace)
    assert n_helix >= 10 and n_strand == 0
    np.testing.assert_allclose(np.linalg.norm(np.diff(out, axis=0), axis=1), ideal.CA_CA,
                               atol=1e-6)
    _, rmsd = secondary.superpose(helix, out[5:])
    assert rmsd < 0.3


def test_with_symmetry_only_the_unique_part_is_built_then_expanded():
    """A C2 dimer: the builder traces one asymmetric unit only; the operators' copies of it
    cover the other subunit and never fall on the built atoms."""
    from scipy.spatial import cKDTree

    from resolvecryoem.core.models.building import prepare_map
    from resolvecryoem.core.models.structure import expand_symmetry
    from resolvecryoem.core.symmetry import asymmetric_unit
    from resolvecryoem.tests._models_case import N_RESIDUES, RESOLUTION, dimer_case
    dimer, truth, h1, h2, voxel, start, ops = dimer_case()
    avg = 0.5 * (h1 + h2)
    region = asymmetric_unit(prepare_map(avg, voxel, RESOLUTION), voxel, start, ops)
    w = np.clip(truth, 0, None)
    assert abs(w[region].sum() / w.sum() - 0.5) < 0.05   # one subunit's worth
    st, fig = build_model(avg, voxel, start, RESOLUTION, n_residues_max=N_RESIDUES, seed=0,
                          region=region, pseudo_atoms=False)
    ca = np.vstack(ca_chains(st))
    assert 0.6 * N_RESIDUES <= fig["residues"] == len(ca) <= N_RESIDUES
    idx = np.round((ca[:, ::-1] - start) / voxel).astype(int)
    assert region[tuple(idx.T)].all()
    full = expand_symmetry(st, ops)
    ca2 = np.vstack(ca_chains(full))
    assert len(ca2) == 2 * len(ca)
    assert cKDTree(ca).query(ca2[len(ca):])[0].min() > 3.0     # not doubled
    cmp = compare_ca(full, dimer)
    assert cmp["within_3A"] >= 0.8 and cmp["built_within_3A"] >= 0.8, cmp
