"""verdict must be able to say "did not help"; compare must rank maps by map-model FSC."""
import json

import numpy as np
import pytest

from resolvecryoem.core import mapio
from resolvecryoem.core.errors import InputError
from resolvecryoem.core.validation import (HELPED, MADE_WORSE, NOT_HELPED, compare, verdict,
                                          verdict_main)
from resolvecryoem.core.simulate import bundled_model, example_case


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return example_case(tmp_path_factory.mktemp("vcase"), box=48, resolution_A=4.0, seed=3)


def _run_dir(tmp_path, case, c1, c2):
    info = mapio.map_info(case.truth.shape, case.voxel_size, case.start_A)
    mapio.write_map(tmp_path / "denmod_half_map_1.mrc", c1, info)
    mapio.write_map(tmp_path / "denmod_half_map_2.mrc", c2, info)
    (tmp_path / "results.json").write_text(json.dumps({"inputs": {
        "half_map_1": {"path": str(case.paths["half_map_1"])},
        "half_map_2": {"path": str(case.paths["half_map_2"])}}, "box": None}))
    return tmp_path


def test_unchanged_halves_did_not_help(case, tmp_path):
    # Shell-wise rescaling (what a sharpening does) is no improvement either.
    v = verdict(_run_dir(tmp_path, case, 3.0 * case.half_map_1, 0.5 * case.half_map_2))
    assert v.verdict == NOT_HELPED
    assert abs(v.resolution_after - v.resolution_before) < 0.05


def test_noise_did_not_help(case, tmp_path):
    rng = np.random.default_rng(0)
    noise = [rng.standard_normal(case.truth.shape).astype(np.float32) for _ in range(2)]
    v = verdict(_run_dir(tmp_path, case, *noise))
    assert v.verdict == MADE_WORSE
    assert "better" not in v.shell_call


def test_real_improvement_helped_and_undecidable_shells_are_not_gains(case, tmp_path):
    # Remove half of each half map's noise using the known truth (signal part kept).
    from resolvecryoem.core.simulate import simulate_half_maps
    _, _, signal = simulate_half_maps(case.truth, case.voxel_size, 4.0, seed=3)
    better = [0.5 * (h + signal) for h in (case.half_map_1, case.half_map_2)]
    v = verdict(_run_dir(tmp_path, case, *better))
    assert v.verdict == HELPED
    assert v.resolution_after < v.resolution_before
    from resolvecryoem.core.fourier import Shells
    sig = Shells.for_box(case.truth.shape, case.voxel_size).significance()
    weak = v.fsc_before < sig
    assert weak.any()
    assert all(call == "undecidable" for call, w in zip(v.shell_call, weak) if w)


def test_verdict_command_line_and_errors(case, tmp_path, capsys):
    _run_dir(tmp_path, case, case.half_map_1, case.half_map_2)
    assert verdict_main([str(tmp_path)]) == 0
    assert "did not help" in capsys.readouterr().out
    assert verdict_main([str(tmp_path / "nowhere")]) == 2


def test_compare_ranks_the_less_noisy_map_and_matches_sharpening(case, tmp_path):
    from resolvecryoem.core.simulate import simulate_half_maps
    _, _, signal = simulate_half_maps(case.truth, case.voxel_size, 4.0, seed=3)
    info = mapio.map_info(case.truth.shape, case.voxel_size, case.start_A)
    noisy = case.half_map_1
    cleaner = 0.5 * (case.half_map_1 + signal)
    mapio.write_map(tmp_path / "noisy.mrc", noisy, info)
    mapio.write_map(tmp_path / "cleaner.mrc", cleaner, info)
    r = compare(tmp_path / "noisy.mrc", tmp_path / "cleaner.mrc", model=bundled_model(),
                out_dir=tmp_path / "cmp")
    assert r["map_model_resolution_b_envelope"] < r["map_model_resolution_a_envelope"]
    assert (tmp_path / "cmp" / "matched_noisy.mrc").exists()
    # a map against a sharpened copy of itself: FSC 1, matched maps equal
    mapio.write_map(tmp_path / "same.mrc", noisy, info)
    r = compare(tmp_path / "noisy.mrc", tmp_path / "same.mrc", out_dir=tmp_path / "cmp2")
    assert np.allclose(r["map_map_fsc"][1:], 1.0, atol=1e-4)
    other = mapio.map_info((40, 40, 40), case.voxel_size)
    mapio.write_map(tmp_path / "small.mrc", np.ones((40, 40, 40), np.float32), other)
    with pytest.raises(InputError, match="small.mrc"):
        compare(tmp_path / "noisy.mrc", tmp_path / "small.mrc")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_perfect_independent_estimate_is_not_suspect_inside_the_molecule(seed):
    """C_i = the signal itself sits exactly on the independence bound FSC(C_i, O_j) =
    sqrt(FSC(O1, O2)); in outer shells, where the half-map FSC inside the envelope is near
    zero, only margins that count the envelope's fewer independent coefficients keep noise
    from calling it suspect (5ME2 with a supplied model was called suspect that way)."""
    from resolvecryoem.core.simulate import simulate_half_maps
    from resolvecryoem.core.validation import MIN_SUSPECT_SHELLS, SUSPECT, verdict_from_maps
    c = example_case(None, box=96, resolution_A=3.5, seed=seed)
    h1, h2, signal = simulate_half_maps(c.truth, c.voxel_size, 3.5, seed=seed)
    v = verdict_from_maps(h1, h2, signal, signal, c.voxel_size, c.envelope)
    assert v.inside.shell_call.count(SUSPECT) < MIN_SUSPECT_SHELLS
    assert v.verdict != SUSPECT
    # ... while half map 2 leaking into half 1's estimate still is.
    leaky = verdict_from_maps(h1, h2, 0.7 * h1 + 0.3 * h2, 0.7 * h2 + 0.3 * h1,
                              c.voxel_size, c.envelope)
    assert leaky.verdict == SUSPECT


def test_envelope_from_the_spectra_is_the_envelope_of_the_maps(case):
    from resolvecryoem.core.fourier import Shells, rfft
    from resolvecryoem.core.validation import envelope_from_spectra, molecule_envelope
    sh = Shells.for_box(case.half_map_1.shape, case.voxel_size)
    F1, F2 = rfft(case.half_map_1), rfft(case.half_map_2)
    kept = F1.copy(), F2.copy()
    env = envelope_from_spectra(F1, F2, sh, 3.5, 0.6)
    assert np.array_equal(env, molecule_envelope(case.half_map_1, case.half_map_2,
                                                 case.voxel_size, 3.5, 0.6))
    assert np.array_equal(F1, kept[0]) and np.array_equal(F2, kept[1])  # left unchanged
    assert 0.3 < env.mean() < 0.5
