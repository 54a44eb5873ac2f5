"""Model-based density modification through the pipeline: outputs, gain against the truth,
half-map independence of the models, bad models."""
import json

import numpy as np
import pytest

from resolvecryoem.cli import main
from resolvecryoem.core import mapio, pipeline
from resolvecryoem.core.errors import InputError
from resolvecryoem.core.params import DensityModificationParams
from resolvecryoem.core.scoring import resolution_against_truth
from resolvecryoem.core.simulate import bundled_model, example_case


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return example_case(tmp_path_factory.mktemp("modelcase"), box=56, resolution_A=3.5, seed=5)


@pytest.fixture(scope="module")
def result(case, tmp_path_factory):
    out = tmp_path_factory.mktemp("modelrun") / "out"
    res = pipeline.run(case.paths["half_map_1"], case.paths["half_map_2"], out,
                       DensityModificationParams(), seq_file=case.paths["sequence"],
                       model=bundled_model(), log=None)
    return out, res


def _truth(case, path):
    m, _ = mapio.read_map(path)
    return resolution_against_truth(m, case.truth, case.voxel_size, case.envelope)


def test_outputs_and_figures(result):
    out, res = result
    for name in ("denmod_map.mrc", "denmod_map_no_model.mrc", "composite_model.cif",
                 "denmod_half_map_1.mrc", "denmod_half_map_2.mrc", "results.json"):
        assert (out / name).exists(), name
    saved = json.loads((out / "results.json").read_text())
    m = saved["model"]
    from resolvecryoem.core.models import N_COPIES
    assert len(m["refinement"]["half_map_1"]) == m["copies_per_half"] == N_COPIES
    assert all(0.3 < c["map_correlation"] <= 1 for c in m["refinement"]["half_map_2"])
    fsc = m["map_model_fsc"]
    assert fsc["models_of_half_1_vs_other_half"] < 8.0
    assert saved["inputs"]["model"]["sha256"]
    import gemmi
    st = gemmi.read_structure(str(out / "composite_model.cif"))
    b = [a.b_iso for r in st[0][0] for a in r]
    assert np.std(b) > 0  # per-atom B from the copies' spread


def test_model_based_beats_the_standard_run_inside_the_envelope(case, result):
    out, _ = result
    with_model = _truth(case, out / "denmod_map.mrc")
    standard = _truth(case, out / "denmod_map_no_model.mrc")
    assert with_model < standard - 0.1, (with_model, standard)


def test_models_of_half_1_do_not_see_half_map_2(case, tmp_path):
    """Half 1's copies depend on half map 2 only through per-shell scalars (the solvent mask,
    made from both, is the same for both halves): new noise in half map 2 moves them less
    than the same noise in half 1's own density-modified map."""
    state = pipeline.prepare(case.paths["half_map_1"], case.paths["half_map_2"],
                             tmp_path / "out", DensityModificationParams(nproc=1),
                             seq_file=case.paths["sequence"], model=bundled_model(), log=None)
    pipeline.modify_half(state, 1, log=None)
    pipeline.modify_half(state, 2, log=None)

    def copy_xyz():
        pipeline.refine_model(state, 1, 0, log=None)
        with np.load(state / "model_half1_copy0.npz") as f:
            return f["xyz"]

    base = copy_xyz()
    # A half's copies refined together (one preparation shared) are those refined one by one.
    pipeline.refine_models(state, 1, [1, 0], log=None)
    with np.load(state / "model_half1_copy0.npz") as f:
        assert np.array_equal(f["xyz"], base)
    rng = np.random.default_rng(0)
    moved = {}
    for which in ("O2", "D1"):
        arr = np.load(state / f"{which}.npy")
        noise = (rng.standard_normal(arr.shape) + 1j * rng.standard_normal(arr.shape))
        scale = np.abs(np.load(state / "O1.npy") - np.load(state / "O2.npy")) / 2
        np.save(state / f"{which}.npy", (arr + noise * scale).astype(np.complex64))
        moved[which] = float(np.sqrt(np.mean(np.sum((copy_xyz() - base) ** 2, axis=1))))
        np.save(state / f"{which}.npy", arr)
    # Half map 2's noise reaches half 1's models only through per-shell weights: a few
    # hundredths of an A, less than the same noise in half 1's own map does.
    assert moved["O2"] < 0.1, moved
    assert moved["O2"] < moved["D1"], moved


def test_model_outside_the_map_is_refused_naming_the_file(case, tmp_path, capsys):
    import gemmi
    st = gemmi.read_structure(str(bundled_model()))
    st.setup_entities()
    for m in st:
        for ch in m:
            for r in ch:
                for a in r:
                    a.pos = gemmi.Position(a.pos.x + 500, a.pos.y, a.pos.z)
    path = tmp_path / "far.pdb"
    st.write_pdb(str(path))
    code = main([str(case.paths["half_map_1"]), str(case.paths["half_map_2"]),
                 "--seq-file", str(case.paths["sequence"]), "--model", str(path),
                 "--output-dir", str(tmp_path / "out"), "--quiet"])
    assert code == 2
    assert "far.pdb" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    with pytest.raises(InputError, match="nothing.cif"):
        pipeline.run(case.paths["half_map_1"], case.paths["half_map_2"], tmp_path / "o2",
                     seq_file=case.paths["sequence"], model=tmp_path / "nothing.cif", log=None)


def test_automatic_models_help_and_report_what_they_built(case, tmp_path):
    out = tmp_path / "auto"
    res = pipeline.run(case.paths["half_map_1"], case.paths["half_map_2"], out,
                       DensityModificationParams(density_modify_with_model=True),
                       seq_file=case.paths["sequence"], log=None)
    assert res["model"]["automatic"]
    refined = res["model"]["refinement"]["half_map_1"]
    assert len(refined) >= 3 and all(c["map_correlation"] > 0.3 for c in refined)
    with_models = _truth(case, out / "denmod_map.mrc")
    standard = _truth(case, out / "denmod_map_no_model.mrc")
    assert with_models < standard + 0.02, (with_models, standard)
    assert (out / "composite_model.cif").exists()


def test_automatic_models_fall_back_at_poor_resolution(tmp_path):
    poor = example_case(tmp_path / "in", box=40, resolution_A=6.0, seed=1)
    res = pipeline.run(poor.paths["half_map_1"], poor.paths["half_map_2"], tmp_path / "out",
                       DensityModificationParams(density_modify_with_model=True),
                       seq_file=poor.paths["sequence"], log=None)
    assert any("cannot trace" in w for w in res["warnings"])
    assert "model" not in res
    assert not (tmp_path / "out" / "composite_model.cif").exists()
