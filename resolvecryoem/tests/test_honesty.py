"""What the program reports must be true of the map it delivers (FSC against a known truth),
and the verdict must call what it cannot vouch for: shared noise, contaminated outputs, no
signal, flattening alone."""
import json

import numpy as np
import pytest

from resolvecryoem.cli import main
from resolvecryoem.core import mapio
from resolvecryoem.core.errors import InputError
from resolvecryoem.core.params import DensityModificationParams
from resolvecryoem.core.pipeline import run
from resolvecryoem.core.scoring import resolution_against_truth
from resolvecryoem.core.simulate import example_case
from resolvecryoem.core.validation import (HELPED, SUSPECT, UNDECIDABLE, molecule_envelope,
                                          verdict_from_maps)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return example_case(tmp_path_factory.mktemp("honest"), box=56, resolution_A=3.5, seed=4)


def _avg(case):
    return 0.5 * (case.half_map_1 + case.half_map_2)


def _truth(case, m, envelope=False):
    return resolution_against_truth(m, case.truth, case.voxel_size,
                                    case.envelope if envelope else None)


def _run(case, out, **kw):
    res = run(case.paths["half_map_1"], case.paths["half_map_2"], out,
              DensityModificationParams(**kw), seq_file=case.paths["sequence"], log=None)
    return res, mapio.read_map(out / "denmod_map.mrc")[0]


@pytest.mark.parametrize("options", [{}, {"sigma_weighting": True},
                                     {"real_space_weighting": True},
                                     {"local_sharpening": True}, {"resolution": 6.0},
                                     {"dm_resolution": 10.0}])
def test_reported_resolution_describes_the_delivered_map(case, tmp_path, options):
    res, delivered = _run(case, tmp_path / "out", **options)
    reported = res["resolution"]["after_corrected"]
    truth = _truth(case, delivered)
    # The report may be cautious, never flattering: it estimates the CC with the signal in
    # the half maps, which is at most the CC with the (sharper) model density.
    assert reported > truth - 0.1, (reported, truth)
    assert reported < truth + 0.35, (reported, truth)
    # The delivered map is the average of the delivered half maps.
    h = [mapio.read_map(tmp_path / "out" / f"denmod_half_map_{i}.mrc")[0] for i in (1, 2)]
    assert np.allclose(delivered, 0.5 * (h[0] + h[1]), atol=1e-4 * float(delivered.std()))


def test_dm_resolution_coarser_than_the_map_keeps_its_information(case, tmp_path):
    # A 3.5 A map density-modified only to 10 A was delivered at 5.6 A (the average: 3.5 A).
    res, delivered = _run(case, tmp_path / "out", dm_resolution=10.0)
    assert _truth(case, delivered) < _truth(case, _avg(case)) + 0.05
    assert res["verdict"]["verdict"] != "made the map worse"


def test_low_resolution_shells_are_not_damaged(case, tmp_path):
    from resolvecryoem.core.scoring import fsc_against_truth
    _, delivered = _run(case, tmp_path / "out")
    shells, dm = fsc_against_truth(delivered, case.truth, case.voxel_size, case.envelope)
    _, avg = fsc_against_truth(_avg(case), case.truth, case.voxel_size, case.envelope)
    low = (shells.s > 0) & (shells.s < 1 / 15.0)
    # seen before the fix: 0.88 against 0.995 near 26 A inside the envelope
    assert np.all(dm[low] > avg[low] - 0.03), (dm[low], avg[low])


def _write(tmp_path, case, name, data):
    info = mapio.map_info(case.truth.shape, case.voxel_size, case.start_A)
    path = tmp_path / f"{name}.mrc"
    mapio.write_map(path, np.asarray(data, np.float32), info)
    return path


def test_shared_noise_is_reported_and_identical_maps_are_refused(case, tmp_path):
    rng = np.random.default_rng(1)
    sd = float(np.std(case.half_map_1 - case.half_map_2))
    shared = rng.standard_normal(case.truth.shape).astype(np.float32) * sd
    h1 = _write(tmp_path, case, "s1", case.half_map_1 + shared)
    h2 = _write(tmp_path, case, "s2", case.half_map_2 + shared)
    res = run(h1, h2, tmp_path / "out", seq_file=case.paths["sequence"], log=None)
    assert any("not independent" in w for w in res["warnings"])
    assert res["verdict"]["verdict"] == SUSPECT
    near = _write(tmp_path, case, "n2", case.half_map_1 +
                  1e-3 * sd * rng.standard_normal(case.truth.shape))
    with pytest.raises(InputError, match="not independent"):
        run(case.paths["half_map_1"], near, tmp_path / "out2",
            seq_file=case.paths["sequence"], log=None)
    assert not (tmp_path / "out2").exists()


def test_pure_noise_is_refused_with_exit_code_2(case, tmp_path, capsys):
    rng = np.random.default_rng(2)
    n1 = _write(tmp_path, case, "n1", rng.standard_normal(case.truth.shape))
    n2 = _write(tmp_path, case, "n2", rng.standard_normal(case.truth.shape))
    code = main([str(n1), str(n2), "--molecular-mass", "20000", "--output-dir",
                 str(tmp_path / "out"), "--quiet"])
    assert code == 2
    assert "no signal" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_verdict_on_outputs_contaminated_by_the_other_half_is_suspect(case):
    o1, o2 = case.half_map_1, case.half_map_2
    v = verdict_from_maps(o1, o2, o1 + 0.3 * o2, o2 + 0.3 * o1, case.voxel_size)
    assert v.verdict == SUSPECT
    assert "suspect" in v.shell_call


def test_verdict_on_noise_makes_no_resolution_claim(case):
    rng = np.random.default_rng(3)
    n = [rng.standard_normal(case.truth.shape).astype(np.float32) for _ in range(4)]
    v = verdict_from_maps(*n, case.voxel_size)
    assert v.verdict == UNDECIDABLE
    assert v.resolution_before is None and v.resolution_after is None


def test_masked_average_is_not_called_density_modification(case):
    o1, o2 = case.half_map_1, case.half_map_2
    env = molecule_envelope(o1, o2, case.voxel_size, 3.5, 0.7)
    assert np.corrcoef(env.ravel(), case.envelope.ravel())[0, 1] > 0.6
    v = verdict_from_maps(o1, o2, o1 * env, o2 * env, case.voxel_size, envelope=env)
    assert v.whole.verdict == HELPED  # flattening wins the whole-box score by itself ...
    assert v.verdict != HELPED        # ... but not inside the molecule
    assert "solvent alone" in v.reason


def test_help_of_every_subcommand(capsys):
    for argv in (["--help"], ["example", "--help"], ["compare", "--help"],
                 ["verdict", "--help"]):
        with pytest.raises(SystemExit) as e:
            main(argv)
        assert e.value.code == 0
        assert "usage" in capsys.readouterr().out.lower()


def test_results_and_verdict_command_agree(case, tmp_path):
    from resolvecryoem.core.validation import verdict
    res, _ = _run(case, tmp_path / "out")
    v = verdict(tmp_path / "out")
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["verdict"]["verdict"] == v.verdict == HELPED
    assert saved["resolution"]["after_corrected"] == pytest.approx(v.resolution_full_after)
    # the outputs offered again as input half maps: no longer independent
    again = run(tmp_path / "out" / "denmod_half_map_1.mrc",
                tmp_path / "out" / "denmod_half_map_2.mrc", tmp_path / "again",
                seq_file=case.paths["sequence"], log=None)
    assert any("not independent" in w for w in again["warnings"])
    assert again["verdict"]["verdict"] == SUSPECT


def test_compare_can_say_no_significant_difference(case, tmp_path):
    from resolvecryoem.core.fourier import Shells, irfft, rfft
    from resolvecryoem.core.simulate import bundled_model
    from resolvecryoem.core.validation import compare
    avg = _avg(case)
    shells = Shells.for_box(avg.shape, case.voxel_size)
    sharpened = irfft(rfft(avg) * shells.expand(np.exp(40 * shells.s ** 2 / 4)), avg.shape)
    a = _write(tmp_path, case, "a", avg)
    for other in (_write(tmp_path, case, "same", avg), _write(tmp_path, case, "sharp",
                                                                sharpened)):
        r = compare(a, other, model=bundled_model())
        assert r["better"] is None, r["evidence"]
    # a clearly better map is still found
    from resolvecryoem.core.simulate import simulate_half_maps
    _, _, signal = simulate_half_maps(case.truth, case.voxel_size, 3.5, seed=4)
    better = _write(tmp_path, case, "better", 0.5 * (avg + signal))
    assert compare(a, better, model=bundled_model())["better"] == "b"


def test_compare_score_of_a_map_does_not_depend_on_its_partner(case, tmp_path):
    from resolvecryoem.core.simulate import bundled_model
    from resolvecryoem.core.validation import compare
    a = _write(tmp_path, case, "a", _avg(case))
    scores = {compare(a, _write(tmp_path, case, f"p{i}", p),
                      model=bundled_model())["map_model_resolution_a_envelope"]
              for i, p in enumerate((case.half_map_1, case.truth, 3 * case.half_map_2))}
    assert len(scores) == 1, scores


def test_readme_keyword_table_quotes_the_help_texts():
    """The README's keyword table says what --help says (figures in help texts included)."""
    import re
    from pathlib import Path
    from resolvecryoem.core.params import param_fields
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    helps = {f.name: f.metadata["help"] for f in param_fields()}
    rows = re.findall(r"^\| `(\w+)` \| `--[^|]*\|[^|]*\|[^|]*\| (.*) \|$", readme, re.M)
    assert {n for n, _ in rows} == set(helps)
    for name, text in rows:
        assert text == helps[name], name


def test_compare_uses_a_given_voxel_size(case, tmp_path):
    from resolvecryoem.core.validation import compare
    a = _write(tmp_path, case, "a", case.half_map_1)
    b = _write(tmp_path, case, "b", case.half_map_2)
    r1 = compare(a, b)
    r2 = compare(a, b, voxel_size=2 * case.voxel_size)
    assert r2["map_map_resolution_0.5"] == pytest.approx(2 * r1["map_map_resolution_0.5"],
                                                         rel=1e-4)


def test_verdict_command_agrees_with_a_boxed_run(tmp_path):
    """A run that boxes assesses the analysed box with its soft edge; ``resolvecryoem
    verdict`` rebuilds that box from results.json and gives the same figures (before the box
    recorded its edge, the command cut plain slices: 2.81 against the run's 2.78 A)."""
    from resolvecryoem.core.simulate import example_case
    from resolvecryoem.core.validation import verdict
    case = example_case(tmp_path, box=112, resolution_A=3.5, seed=4, voxel_A=1.2)
    res = run(case.paths["half_map_1"], case.paths["half_map_2"], tmp_path / "out",
              seq_file=case.paths["sequence"], log=None)
    assert res["box"] is not None and res["box"]["taper_voxels"]
    v = verdict(tmp_path / "out")
    assert v.verdict == res["verdict"]["verdict"]
    assert v.resolution_full_after == res["resolution"]["after_corrected"]
    assert v.inside.resolution_full_after == res["resolution"]["after_envelope"]
    assert v.resolution_before == res["resolution"]["half_map_fsc"]
