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


def test_help_lists_keywords_with_limits(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--b-iso" in out and "at least 0 and at most 1000" in out and "+-10%" in out


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


def test_indefinite_residue_letters_and_a_crowded_box_are_reported(case, tmp_path, capsys):
    seq = case.paths["sequence"].read_text().strip() + "XXXXZZB\n"
    (tmp_path / "s.fasta").write_text(seq)
    h1, h2 = str(case.paths["half_map_1"]), str(case.paths["half_map_2"])
    code = main([h1, h2, "--seq-file", str(tmp_path / "s.fasta"), "--cycles", "1",
                 "--output-dir", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0
    assert "WARNING" in out and "7 of " in out and "B 1, X 4, Z 2" in out
    # a mass whose volume (1.23 A^3/Da) fills 97% of the box
    box_A3 = mapio.read_map(h1, header_only=True)[1].box_volume_A3
    code = main([h1, h2, "--molecular-mass", str(0.97 * box_A3 / 1.23), "--cycles", "1",
                 "--output-dir", str(tmp_path / "out2")])
    out = capsys.readouterr().out
    assert code == 0
    assert "fills 97.0% of the box" in out and "assumed a solvent fraction of 0.05" in out
