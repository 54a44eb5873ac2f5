"""Model-based sharpening of the final map (models.sharpening): the per-shell scale, the
models' shell amplitudes, and the option without models."""

import numpy as np
import pytest

from resolvecryoem.core import mapio, pipeline
from resolvecryoem.core.fourier import Shells
from resolvecryoem.core.models import sharpening
from resolvecryoem.core.models.refinement import RefinedCopy
from resolvecryoem.core.params import DensityModificationParams
from resolvecryoem.core.simulate import example_case
from resolvecryoem.tests._models_case import BOX, VOXEL, small_case


def test_scale_brings_the_amplitudes_to_cc_times_the_models_and_keeps_the_low_shells():
    shells = Shells.for_box((40, 40, 40), 1.0)
    rng = np.random.default_rng(0)
    rms = np.exp(-20 * shells.s ** 2) * (1 + 0.2 * rng.random(shells.n))
    model = np.exp(-5 * shells.s ** 2)
    cc = np.clip(1.2 - 2.5 * shells.s, 0, 1)
    standard = 1.0 + shells.s  # any standard scale, already held below 8 A
    fs = sharpening.model_final_scale(rms, cc, model, standard, shells)
    fine = shells.s >= 1 / 8.0
    a = int(np.argmax(fine))
    delivered = fs * rms
    # Beyond 8 A: amplitudes proportional to CC x A_M, equal to the standard's at 8 A.
    ratio = delivered[fine & (cc > 0)] / (cc * model)[fine & (cc > 0)]
    assert np.allclose(ratio, ratio[0])
    assert fs[a] == pytest.approx(standard[a])
    assert np.allclose(fs[1:a], fs[a]) and fs[0] == standard[0]
    assert np.all(fs[cc == 0] == 0)
    # Without final_scale_with_fsc_ref the weight is sqrt(CC), as for the standard scale.
    soft = sharpening.model_final_scale(rms, cc, model, standard, shells,
                                        final_scale_with_fsc_ref=False)
    sel = fine & (cc > 0)
    r = soft[sel] * rms[sel] / (np.sqrt(cc) * model)[sel]
    assert np.allclose(r, r[0])


def test_models_shell_amplitude_follows_the_atoms_not_their_positions():
    """Wilson: beyond 8 A a shell's power is the atoms' scattering, whatever their positions;
    half the atoms give the same fall-off, and moving atoms by 0.5 A does not change it."""
    st, atoms, *_ = small_case()
    start = np.array(small_case()[6])
    shells = Shells.for_box((BOX,) * 3, VOXEL)
    n = atoms.n
    full = RefinedCopy(atoms.xyz, np.ones(n), {})
    shaken = RefinedCopy(atoms.xyz + np.random.default_rng(1).normal(0, 0.3, (n, 3)),
                         np.ones(n), {})
    half_occ = np.where(atoms.residue < atoms.residue.max() / 2, 1.0, 0.0)
    partial = RefinedCopy(atoms.xyz, half_occ, {})
    a_full = sharpening.model_shell_amplitude(st, [full], shells, VOXEL, start)
    a_shaken = sharpening.model_shell_amplitude(st, [shaken, shaken], shells, VOXEL, start)
    a_part = sharpening.model_shell_amplitude(st, [partial], shells, VOXEL, start)
    fine = (shells.s >= 1 / 8.0) & (shells.s <= 1 / 2.5)
    for other in (a_shaken, a_part):
        r = other[fine] / a_full[fine]
        assert np.std(np.log(r)) < 0.15, r
    # ... and it falls like B = 20 A^2 atoms, not like the half maps' data (B 60-120 A^2).
    slope = np.polyfit(shells.s[fine] ** 2, np.log(a_full[fine]), 1)[0]
    assert -4 * slope < 60


def test_without_a_model_the_option_is_refused_naming_the_keyword(tmp_path, capsys):
    from resolvecryoem.cli import main
    from resolvecryoem.core.errors import InputError
    case = example_case(tmp_path / "in", box=40, resolution_A=4.0, seed=2)
    out = tmp_path / "out"
    with pytest.raises(InputError, match="model_sharpening"):
        pipeline.run(case.paths["half_map_1"], case.paths["half_map_2"], out,
                     DensityModificationParams(model_sharpening=True),
                     seq_file=case.paths["sequence"], log=None)
    code = main([str(case.paths["half_map_1"]), str(case.paths["half_map_2"]),
                 "--seq-file", str(case.paths["sequence"]), "--model-sharpening",
                 "--output-dir", str(out), "--quiet"])
    assert code == 2 and "model_sharpening" in capsys.readouterr().err
    assert not out.exists()


def test_automatic_models_not_built_keep_the_standard_sharpening_and_say_so(tmp_path):
    """With density_modify_with_model at a resolution the builder cannot use there are no
    models: the standard final sharpening, as without the option, and a log line."""
    case = example_case(tmp_path / "in", box=40, resolution_A=6.0, seed=1)
    maps, logs = {}, {}
    for on in (False, True):
        lines = []
        res = pipeline.run(case.paths["half_map_1"], case.paths["half_map_2"],
                           tmp_path / f"out{on}",
                           DensityModificationParams(model_sharpening=on,
                                                     density_modify_with_model=True),
                           seq_file=case.paths["sequence"], log=lines.append)
        assert res["final_sharpening"]["method"] == "standard"
        maps[on] = mapio.read_map(tmp_path / f"out{on}" / "denmod_map.mrc")[0]
        logs[on] = "\n".join(lines)
    assert np.array_equal(maps[False], maps[True])
    assert "model_sharpening: no models in this run" in logs[True]
    assert "model_sharpening" not in logs[False]
