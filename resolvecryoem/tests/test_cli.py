"""The command line: a run, keywords, and clear errors for bad input with nothing left behind."""
import dataclasses

import numpy as np
import pytest

from resolvecryoem.cli import build_parser, main, params_from_args
from resolvecryoem.core import mapio
from resolvecryoem.core.params import DensityModificationParams, cli_flag, param_fields
from resolvecryoem.core.simulate import example_case


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return example_case(tmp_path_factory.mktemp("clicase"), box=48, resolution_A=4.5, seed=2)


def test_every_keyword_is_a_flag_with_help():
    parser = build_parser()
    options = {s for a in parser._actions for s in a.option_strings}
    for f in param_fields():
        assert cli_flag(f.name) in options, f.name
        assert f.metadata["help"]
    args = parser.parse_args(["a.mrc", "b.mrc", "--molecular-mass", "50000",
                              "--no-box-before-analysis", "--cycles", "2", "--b-iso", "40"])
    p = params_from_args(args)
    assert (p.molecular_mass, p.box_before_analysis, p.cycles, p.b_iso) == (50000, False, 2, 40)
    assert p.resolution is None  # unset flags keep the dataclass defaults
    defaults = DensityModificationParams()
    assert dataclasses.replace(p, molecular_mass=None, box_before_analysis=True,
                               cycles=defaults.cycles, b_iso=None) == defaults


def test_command_line_run(case, tmp_path, capsys):
    out = tmp_path / "out"
    code = main([str(case.paths["half_map_1"]), str(case.paths["half_map_2"]),
                 "--seq-file", str(case.paths["sequence"]), "--output-dir", str(out),
                 "--quiet"])
    assert code == 0
    assert (out / "denmod_map.mrc").exists()
    assert "after density modification" in capsys.readouterr().out


def _expect_error(argv, pattern, out, capsys):
    code = main(argv + ["--output-dir", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert pattern in err, err
    assert not out.exists() or not any(out.iterdir()), "something was left behind"


def test_bad_inputs_give_clear_errors(case, tmp_path, capsys):
    h1, h2 = str(case.paths["half_map_1"]), str(case.paths["half_map_2"])
    seq = str(case.paths["sequence"])
    out = tmp_path / "out"
    d, info = mapio.read_map(h2)
    other = mapio.map_info(d.shape, info.voxel_size * 1.1, info.start_A)
    mapio.write_map(tmp_path / "coarse.mrc", d, other)
    _expect_error([h1, str(tmp_path / "coarse.mrc"), "--seq-file", seq],
                  "different voxel sizes", out, capsys)
    _expect_error([h1, h1, "--seq-file", seq], "identical", out, capsys)
    nan = d.copy()
    nan[1, 2, 3] = np.nan
    mapio.write_map(tmp_path / "nan.mrc", nan, info)
    _expect_error([h1, str(tmp_path / "nan.mrc"), "--seq-file", seq], "nan.mrc", out, capsys)
    (tmp_path / "junk.mrc").write_bytes(b"\0" * 100)
    _expect_error([h1, str(tmp_path / "junk.mrc"), "--seq-file", seq], "junk.mrc", out, capsys)
    (tmp_path / "empty.fasta").write_text(">x\n\n")
    _expect_error([h1, h2, "--seq-file", str(tmp_path / "empty.fasta")], "empty.fasta", out,
                  capsys)
    _expect_error([h1, h2, "--seq-file", seq, "--resolution", "0.5"], "Nyquist", out, capsys)
    _expect_error([h1, h2, "--seq-file", seq, "--resolution", "-3"], "positive", out, capsys)
    _expect_error([h1, h2], "sequence file, a molecular mass or a solvent fraction", out,
                  capsys)
    mapio.write_map(tmp_path / "mask.mrc", np.ones((40, 40, 40), np.float32),
                    mapio.map_info((40, 40, 40), info.voxel_size))
    _expect_error([h1, h2, "--seq-file", seq, "--mask", str(tmp_path / "mask.mrc")],
                  "mask.mrc", out, capsys)
    _expect_error([h1, h2, "--seq-file", seq, "--model", seq], "not available yet", out,
                  capsys)


def test_masked_half_maps_warn_loudly(case, tmp_path, capsys):
    d1, info = mapio.read_map(case.paths["half_map_1"])
    d2, _ = mapio.read_map(case.paths["half_map_2"])
    keep = case.envelope > 0.2
    mapio.write_map(tmp_path / "m1.mrc", np.where(keep, d1, 0), info)
    mapio.write_map(tmp_path / "m2.mrc", np.where(keep, d2, 0), info)
    main([str(tmp_path / "m1.mrc"), str(tmp_path / "m2.mrc"), "--seq-file",
          str(case.paths["sequence"]), "--output-dir", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert "WARNING" in out and "looks masked" in out and "UNMASKED" in out


def test_readme_documents_every_keyword():
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for f in param_fields():
        assert f"`{f.name}`" in readme and cli_flag(f.name) in readme, f.name
