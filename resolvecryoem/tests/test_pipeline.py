"""End to end: the pipeline improves maps made from a real model, against the known truth."""
import json

import numpy as np
import pytest

from resolvecryoem.core import mapio
from resolvecryoem.core.params import DensityModificationParams
from resolvecryoem.core.pipeline import OUTPUTS, STATE, finish, modify_half, prepare, run
from resolvecryoem.core.scoring import resolution_against_truth
from resolvecryoem.core.simulate import example_case


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return example_case(tmp_path_factory.mktemp("case"), box=64, resolution_A=4.0, seed=1)


@pytest.fixture(scope="module")
def result(case, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    res = run(case.paths["half_map_1"], case.paths["half_map_2"], out,
              seq_file=case.paths["sequence"], log=None)
    return out, res


def _score(path, case, envelope=True):
    m, _ = mapio.read_map(path)
    return resolution_against_truth(m, case.truth, case.voxel_size,
                                    case.envelope if envelope else None)


def _avg(case):
    return 0.5 * (case.half_map_1 + case.half_map_2)


def test_outputs_exist_in_the_input_box(case, result):
    out, _ = result
    optional = ("local_resolution", "denmod_map_no_model", "composite_model")
    expected = [v for k, v in OUTPUTS.items() if k not in optional]
    assert sorted(p.name for p in out.iterdir()) == sorted(expected)
    _, info_in = mapio.read_map(case.paths["half_map_1"])
    for name in ("denmod_map", "denmod_half_map_1", "denmod_half_map_2", "initial_map"):
        d, info = mapio.read_map(out / OUTPUTS[name])
        assert d.shape == info_in.shape
        assert np.allclose(info.voxel_size, info_in.voxel_size)
        assert np.allclose(info.start_A, info_in.start_A)
        # never masked or zero-filled: the solvent corners keep (low-level) density
        assert np.mean(d == 0) < 0.01
        assert d[:6, :6, :6].std() > 0


def test_map_improves_against_truth_inside_envelope_and_whole_box(case, result):
    out, _ = result
    avg_inside = resolution_against_truth(_avg(case), case.truth, case.voxel_size,
                                          case.envelope)
    avg_whole = resolution_against_truth(_avg(case), case.truth, case.voxel_size)
    # Stated margins (seen: inside 2.85 -> 2.72 A, whole 4.04 -> 2.92 A on seed 0).
    assert _score(out / "denmod_map.mrc", case) < avg_inside - 0.05
    assert _score(out / "denmod_map.mrc", case, envelope=False) < avg_whole - 0.5


def test_results_json_is_complete(case, result):
    out, res = result
    saved = json.loads((out / "results.json").read_text())
    # The reported resolutions are true of the delivered map: checked against the truth
    # (seen on seed 1: corrected 3.38 A, FSC(denmod_map, truth) = 0.5 at 3.29 A; seeds 0-3 and
    # 3-6 A: the estimate 0.1-0.26 A conservative, never optimistic).
    d, _ = mapio.read_map(out / "denmod_map.mrc")
    true_after = resolution_against_truth(d, case.truth, case.voxel_size)
    assert true_after - 0.1 <= saved["resolution"]["after_corrected"] <= true_after + 0.35
    assert true_after - 0.1 <= saved["resolution"]["after_cross"] <= true_after + 0.35
    true_before = resolution_against_truth(_avg(case), case.truth, case.voxel_size)
    assert abs(saved["resolution"]["half_map_fsc"] - true_before) < 0.2
    assert saved["inputs"]["half_map_1"]["sha256"]
    n = len(saved["fsc"]["s"])
    for key in ("half_maps_before", "fsc_equivalent_after", "denmod_half_1_vs_original_half_2",
                "denmod_half_2_vs_original_half_1", "denmod_halves"):
        assert len(saved["fsc"][key]) == n
    assert 0.0 < saved["r_values"]["half_map_1"][0] < 1.0
    assert "definition" in saved["r_values"]
    assert saved["timings"]
    assert abs(saved["resolution"]["half_map_fsc"] - 4.0) < 0.4
    log = (out / "resolvecryoem.log").read_text()
    assert "solvent fraction" in log and "R-value" in log


def test_histogram_term_helps_inside_envelope(case, result, tmp_path):
    out, _ = result
    run(case.paths["half_map_1"], case.paths["half_map_2"], tmp_path,
        DensityModificationParams(use_molecule_histogram=False),
        seq_file=case.paths["sequence"], log=None)
    assert _score(out / "denmod_map.mrc", case) <= _score(tmp_path / "denmod_map.mrc", case)


def test_stages_run_separately_and_clean_up(case, result, tmp_path):
    state = prepare(case.paths["half_map_1"], case.paths["half_map_2"], tmp_path,
                    seq_file=case.paths["sequence"], log=None)
    assert state.name == STATE and (state / "meta.json").exists()
    modify_half(state, 2, log=None)  # in the other order: the halves are independent
    modify_half(state, 1, log=None)
    res = finish(state, log=None)
    assert not state.exists()
    # the same maps and figures as the chained run
    out, chained = result
    assert res["resolution"] == chained["resolution"]
    for name in ("denmod_map", "denmod_half_map_1", "denmod_half_map_2", "initial_map"):
        np.testing.assert_array_equal(mapio.read_map(tmp_path / OUTPUTS[name])[0],
                                      mapio.read_map(out / OUTPUTS[name])[0])


def test_full_map_and_mask_inputs(case, tmp_path):
    info = mapio.map_info(case.truth.shape, case.voxel_size, case.start_A)
    mapio.write_map(tmp_path / "full.mrc", _avg(case), info)
    mapio.write_map(tmp_path / "mask.mrc", (case.envelope > 0.5).astype(np.float32), info)
    out = tmp_path / "out"
    res = run(case.paths["half_map_1"], case.paths["half_map_2"], out,
              DensityModificationParams(solvent_fraction=0.8),
              full_map=tmp_path / "full.mrc", mask=tmp_path / "mask.mrc", log=None)
    avg_inside = resolution_against_truth(_avg(case), case.truth, case.voxel_size,
                                          case.envelope)
    assert _score(out / "denmod_map.mrc", case) < avg_inside
    assert res["inputs"]["mask"]["path"].endswith("mask.mrc")


@pytest.mark.parametrize("option", ["real_space_weighting", "sigma_weighting",
                                    "density_modify_unsharpened_maps", "blur_by_resolution",
                                    "local_sharpening"])
def test_options_run_and_still_improve_the_map(case, tmp_path, option):
    res = run(case.paths["half_map_1"], case.paths["half_map_2"], tmp_path,
              DensityModificationParams(**{option: True}), seq_file=case.paths["sequence"],
              log=None)
    avg_whole = resolution_against_truth(_avg(case), case.truth, case.voxel_size)
    assert _score(tmp_path / "denmod_map.mrc", case, envelope=False) < avg_whole
    assert res["parameters"][option] is True


def test_local_sharpening_writes_a_local_resolution_map(case, tmp_path):
    res = run(case.paths["half_map_1"], case.paths["half_map_2"], tmp_path,
              DensityModificationParams(local_sharpening=True),
              seq_file=case.paths["sequence"], log=None)
    assert res["outputs"]["local_resolution"] == "local_resolution.mrc"
    loc, _ = mapio.read_map(tmp_path / "local_resolution.mrc")
    inside = case.envelope > 0.5
    # finer where the molecule is than in the solvent, and in a sensible range
    assert np.median(loc[inside]) < np.median(loc[~inside])
    assert 2 * case.voxel_size - 0.01 <= np.median(loc[inside]) < 10.0


@pytest.fixture(scope="module")
def oblong(tmp_path_factory):
    """Half maps of the bundled model in a non-cubic box (z, y, x) = (44, 48, 52) at 1.3 A
    whose voxel [0, 0, 0] sits at a non-zero model position."""
    from resolvecryoem.core.model_map import atom_positions, model_density, model_envelope
    from resolvecryoem.core.simulate import bundled_model, simulate_half_maps
    shape, voxel = (44, 48, 52), 1.3
    xyz = atom_positions(bundled_model())
    start = (0.5 * (xyz.max(0) + xyz.min(0)))[::-1] - 0.5 * voxel * np.array(shape)
    start = start.round(1)
    truth = model_density(bundled_model(), shape, voxel, start)
    envelope = model_envelope(bundled_model(), shape, voxel, start)
    h1, h2, _ = simulate_half_maps(truth, voxel, 5.0, seed=5)
    d = tmp_path_factory.mktemp("oblong")
    info = mapio.map_info(shape, voxel, start)
    for name, m in (("h1", h1), ("h2", h2)):
        mapio.write_map(d / f"{name}.mrc", m, info)
    return dict(dir=d, h1=h1, h2=h2, truth=truth, envelope=envelope, start=start,
                voxel=voxel, shape=shape)


@pytest.mark.filterwarnings("error::RuntimeWarning")  # the fsc.py overflow seen on 112x96x80
@pytest.mark.parametrize("frame", ["origin", "nstart"])
def test_axis_order_321_and_offset_outputs_in_the_inputs_frame(oblong, tmp_path, frame):
    """Half maps stored with MAPC/MAPR/MAPS = 3/2/1 (columns along z) and voxel [0, 0, 0] away
    from the model origin (by ORIGIN, or by NXSTART..): the outputs are the same maps as from
    the canonical files, written where the input was (same ORIGIN / NSTART in the header) and
    matching the truth in that frame."""
    import mrcfile
    from .test_mapio import _write_raw
    o = oblong
    shift_vox = np.array([3, -5, 7])  # (z, y, x) in voxels, for the nstart frame
    if frame == "origin":
        start, origin, nstart_zyx = o["start"], tuple(o["start"][::-1]), (0, 0, 0)
    else:  # NSTART only (the arrays, and the truth array, are the same)
        start, origin, nstart_zyx = shift_vox * o["voxel"], (0.0, 0.0, 0.0), shift_vox
    truth, h1, h2 = o["truth"], o["h1"], o["h2"]
    for name, m in (("h1", h1), ("h2", h2)):
        # file axes (sections, rows, columns) = (x, y, z): the transpose of (z, y, x)
        _write_raw(tmp_path / f"{name}.mrc", m.transpose(2, 1, 0), 3, 2, 1,
                   nstart=(nstart_zyx[0], nstart_zyx[1], nstart_zyx[2]),  # column axis is z
                   origin=origin, voxel=(o["voxel"],) * 3)
        mapio.write_map(tmp_path / f"{name}_canonical.mrc", m,
                        mapio.map_info(o["shape"], o["voxel"], start))
    _, info_in = mapio.read_map(tmp_path / "h1.mrc")
    assert info_in.shape == o["shape"] and np.allclose(info_in.start_A, start)
    mass = 23_600.0  # adenylate kinase, about
    runs = {}
    for kind, suffix in (("permuted", ""), ("canonical", "_canonical")):
        runs[kind] = tmp_path / kind
        run(tmp_path / f"h1{suffix}.mrc", tmp_path / f"h2{suffix}.mrc", runs[kind],
            DensityModificationParams(molecular_mass=mass), log=None)
    avg = 0.5 * (h1 + h2)
    before = resolution_against_truth(avg, truth, o["voxel"], o["envelope"])
    for name in ("denmod_map", "denmod_half_map_1", "initial_map"):
        d, info = mapio.read_map(runs["permuted"] / OUTPUTS[name])
        ref, _ = mapio.read_map(runs["canonical"] / OUTPUTS[name])
        assert d.shape == o["shape"]
        assert np.allclose(info.start_A, start) and np.allclose(info.voxel_size, o["voxel"])
        np.testing.assert_allclose(d, ref, atol=1e-4 * float(np.abs(ref).max()))
        with mrcfile.open(runs["permuted"] / OUTPUTS[name], header_only=True) as m:
            h = m.header
            assert (int(h.mapc), int(h.mapr), int(h.maps)) == (1, 2, 3)
            assert np.allclose([h.origin.x, h.origin.y, h.origin.z], origin)
            # NSTART of the input's z axis (its column axis) is the output's section axis
            assert (int(h.nxstart), int(h.nystart), int(h.nzstart)) == tuple(
                int(v) for v in nstart_zyx[::-1])
    d, _ = mapio.read_map(runs["permuted"] / "denmod_map.mrc")
    assert resolution_against_truth(d, truth, o["voxel"], o["envelope"]) < before - 0.1
    # and the frame is right: the same map shifted by two voxels along x matches worse
    assert resolution_against_truth(np.roll(d, 2, axis=2), truth, o["voxel"],
                                    o["envelope"]) > before



@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_box_112_96_80_runs_without_overflow_and_improves(tmp_path):
    """The box where fsc.power overflowed: beyond dm_resolution the recombined half map was
    empty in some shells, and rescaling it to the original's shell rms divided by zero there;
    the interpolated factor leaked ~1e32 into the last non-empty shell (cycle 2 maps ~1e27)."""
    from resolvecryoem.core.model_map import atom_positions, model_density, model_envelope
    from resolvecryoem.core.simulate import bundled_model, simulate_half_maps
    shape, voxel = (80, 96, 112), 1.0
    xyz = atom_positions(bundled_model())
    start = ((0.5 * (xyz.max(0) + xyz.min(0)))[::-1] - 0.5 * np.array(shape)).round(2)
    truth = model_density(bundled_model(), shape, voxel, start)
    envelope = model_envelope(bundled_model(), shape, voxel, start)
    h1, h2, _ = simulate_half_maps(truth, voxel, 4.0, seed=1)
    info = mapio.map_info(shape, voxel, start)
    mapio.write_map(tmp_path / "h1.mrc", h1, info)
    mapio.write_map(tmp_path / "h2.mrc", h2, info)
    res = run(tmp_path / "h1.mrc", tmp_path / "h2.mrc", tmp_path / "out",
              DensityModificationParams(molecular_mass=23_600.0), log=None)
    d, _ = mapio.read_map(tmp_path / "out" / "denmod_map.mrc")
    assert np.all(np.isfinite(d))
    avg = 0.5 * (h1 + h2)
    # seen: inside the envelope 4.07 -> 3.12 A (3.14 A before the fix: cycle 2 then worked on
    # a map of 1e27, clipped by the histogram grid, and its R-value was off)
    assert resolution_against_truth(d, truth, voxel, envelope) < \
        resolution_against_truth(avg, truth, voxel, envelope) - 0.3
    assert all(r < 1.0 for r in res["r_values"]["half_map_1"])
