"""Bad input through the command line, as a new user would give it: every case ends with exit
code 2, a message naming the file or keyword and the problem, no traceback, and nothing left
in the output folder (a user's own files there untouched)."""
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from resolvecryoem.cli import main
from resolvecryoem.core import mapio
from resolvecryoem.core.simulate import example_case

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The example case's files plus the bad ones the cases refer to by name."""
    d = tmp_path_factory.mktemp("bad")
    case = example_case(d, box=40, resolution_A=5.0, seed=4)
    f = dict(case.paths)
    h2, info = mapio.read_map(f["half_map_2"])

    def write(name, data, geometry=info):
        f[name] = d / f"{name}.mrc"
        mapio.write_map(f[name], data, geometry)

    write("coarse", h2, mapio.map_info(h2.shape, info.voxel_size * 1.1, info.start_A))
    write("shifted", h2, mapio.map_info(h2.shape, info.voxel_size, info.start_A + 7.0))
    nan = h2.copy()
    nan[1, 2, 3] = np.nan
    write("nan", nan)
    write("constant", np.ones_like(h2))
    write("small", h2[:32, :32, :32], mapio.map_info((32, 32, 32), info.voxel_size))
    write("mask_ones", np.ones_like(h2))
    write("mask_zeros", np.zeros_like(h2))
    write("mask_range", 5 * np.ones_like(h2))
    write("mask_box", np.ones((32, 32, 32), np.float32), mapio.map_info((32,) * 3, 1.0))
    texts = {
        "junk": (".mrc", b"\0" * 100),
        "empty_seq": (".fasta", b">x\n\n"),
        "digits_seq": (".fasta", b">x\n123 456\n"),
        "binary_seq": (".fasta", b"\xff\xfe\x00\x01" * 10),
        "symbol_seq": (".fasta", b">x\nMKV#LLA\n"),
        "ncs_two": (".ncs_spec", b"rota_matrix 1 0 0\nrota_matrix 0 1\nrota_matrix 0 0 1\n"
                                 b"tran_orth 0 0 0\n"),
        "ncs_none": (".ncs_spec", b"nothing here\n"),
        "ncs_text": (".ncs_spec", b"rota_matrix 1 0 x\n"),
        "ncs_mirror": (".ncs_spec", b"rota_matrix -1 0 0\nrota_matrix 0 1 0\n"
                                    b"rota_matrix 0 0 1\ntran_orth 0 0 0\n"),
        "ncs_short": (".ncs_spec", b"rota_matrix 1 0 0\nrota_matrix 0 1 0\n"),
    }
    for name, (ext, data) in texts.items():
        f[name] = d / f"{name}{ext}"
        f[name].write_bytes(data)
    f["a_file"] = d / "a_file.txt"
    f["a_file"].write_text("not a folder\n")
    f["missing"] = d / "no_such_map.mrc"
    return f


H = ["{half_map_1}", "{half_map_2}"]
SEQ = ["--seq-file", "{sequence}"]
# (id, argv with {file} placeholders, text the message must contain)
CASES = [
    # keywords
    ("resolution-inf", H + SEQ + ["--resolution", "inf"], "resolution must be a finite"),
    ("resolution-negative", H + SEQ + ["--resolution", "-3"], "resolution must be positive"),
    ("resolution-nyquist", H + SEQ + ["--resolution", "0.5"], "Nyquist"),
    ("resolution-huge", H + SEQ + ["--resolution", "1e6"], "resolution must be"),
    ("dm-resolution-inf", H + SEQ + ["--dm-resolution", "inf"], "dm_resolution must be"),
    ("dm-vs-resolution", H + SEQ + ["--resolution", "5", "--dm-resolution", "20"],
     "dm_resolution 20 A is 4.00 x resolution"),
    ("dm-ratio-nan", H + SEQ + ["--dm-resolution-ratio", "nan"], "dm_resolution_ratio"),
    ("b-iso-inf", H + SEQ + ["--b-iso", "inf"], "b_iso must be a finite"),
    ("b-iso-negative", H + SEQ + ["--b-iso", "-1000"], "b_iso must be at least 0"),
    ("target-b-ratio-nan", H + SEQ + ["--target-b-ratio", "nan"], "target_b_ratio"),
    ("box-cushion-negative", H + SEQ + ["--box-cushion", "-50"], "box_cushion must be"),
    ("molecular-mass-inf", H + ["--molecular-mass", "inf"], "molecular_mass must be"),
    ("molecular-mass-zero", H + ["--molecular-mass", "0"], "molecular_mass must be positive"),
    ("solvent-fraction-one", H + ["--solvent-fraction", "1"], "solvent_fraction must be"),
    ("nproc-negative", H + SEQ + ["--nproc", "-3"], "nproc must be at least 0"),
    ("cycles-zero", H + SEQ + ["--cycles", "0"], "cycles must be at least 1"),
    ("cycles-fraction", H + SEQ + ["--cycles", "2.5"], "--cycles"),
    ("copies-zero", H + SEQ + ["--copies", "0"], "copies must be at least 1"),
    ("no-content", H, "sequence file, a molecular mass or a solvent fraction"),
    ("mass-beyond-box", H + ["--molecular-mass", "1e9"], "times the box of"),
    ("sequence-beyond-box", H + ["--seq-file", "{sequence}", "--copies", "200"],
     "times the box of"),
    ("model-unreadable", H + SEQ + ["--model", "{sequence}"], "cannot read the atomic model"),
    # symmetry
    ("symmetry-symbol", H + SEQ + ["--symmetry", "Q2"], "symmetry 'Q2'"),
    ("symmetry-zero", H + SEQ + ["--symmetry", "C0"], "symmetry C0"),
    ("ncs-two-numbers", H + SEQ + ["--symmetry-file", "{ncs_two}"], "ncs_two.ncs_spec, line 2"),
    ("ncs-no-operators", H + SEQ + ["--symmetry-file", "{ncs_none}"], "ncs_none.ncs_spec"),
    ("ncs-text", H + SEQ + ["--symmetry-file", "{ncs_text}"], "ncs_text.ncs_spec, line 1"),
    ("ncs-mirror", H + SEQ + ["--symmetry-file", "{ncs_mirror}"], "mirror"),
    ("ncs-short", H + SEQ + ["--symmetry-file", "{ncs_short}"], "ncs_short.ncs_spec"),
    ("ncs-missing", H + SEQ + ["--symmetry-file", "{missing}"], "no_such_map.mrc"),
    # maps
    ("map-missing", ["{half_map_1}", "{missing}"] + SEQ, "no_such_map.mrc"),
    ("map-junk", ["{half_map_1}", "{junk}"] + SEQ, "junk.mrc"),
    ("map-nan", ["{half_map_1}", "{nan}"] + SEQ, "nan.mrc"),
    ("map-constant", ["{half_map_1}", "{constant}"] + SEQ, "constant.mrc"),
    ("map-identical", ["{half_map_1}", "{half_map_1}"] + SEQ, "identical"),
    ("map-voxel", ["{half_map_1}", "{coarse}"] + SEQ, "different voxel sizes"),
    ("map-origin", ["{half_map_1}", "{shifted}"] + SEQ, "different origins"),
    ("map-box", ["{half_map_1}", "{small}"] + SEQ, "different boxes"),
    ("full-map-box", H + SEQ + ["--full-map", "{small}"], "small.mrc"),
    # masks
    ("mask-all-ones", H + SEQ + ["--mask", "{mask_ones}"], "mask_ones.mrc"),
    ("mask-empty", H + SEQ + ["--mask", "{mask_zeros}"], "mask_zeros.mrc"),
    ("mask-range", H + SEQ + ["--mask", "{mask_range}"], "mask_range.mrc"),
    ("mask-box", H + SEQ + ["--mask", "{mask_box}"], "mask_box.mrc"),
    # sequences
    ("seq-empty", H + ["--seq-file", "{empty_seq}"], "empty_seq.fasta"),
    ("seq-digits", H + ["--seq-file", "{digits_seq}"], "digits_seq.fasta"),
    ("seq-binary", H + ["--seq-file", "{binary_seq}"], "binary_seq.fasta"),
    ("seq-symbols", H + ["--seq-file", "{symbol_seq}"], "symbol_seq.fasta"),
    ("seq-missing", H + ["--seq-file", "{missing}"], "no_such_map.mrc"),
]


def _run(argv, capsys):
    """main's exit code (argparse errors raise SystemExit) and its stderr."""
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("argv,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_exit_2_with_message_and_nothing_left(files, tmp_path, capsys, argv,
                                                        message):
    out = tmp_path / "out"
    code, err = _run([a.format(**files) for a in argv]
                     + ["--output-dir", str(out), "--quiet"], capsys)
    assert code == 2, err
    assert message in err, err
    assert "Traceback" not in err
    assert not out.exists() or not any(out.iterdir()), sorted(out.iterdir())


BY_ID = {c[0]: c[1:] for c in CASES}


@pytest.mark.parametrize("argv,message", [BY_ID["b-iso-inf"], BY_ID["mask-all-ones"],
                                          BY_ID["map-nan"]], ids=["keyword", "mask", "map"])
def test_a_users_files_in_the_output_folder_are_kept(files, tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    code, err = _run([a.format(**files) for a in argv] + ["--output-dir", str(out)], capsys)
    assert code == 2 and message in err, err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert (out / "notes.txt").read_text() == "mine\n"


def test_output_folder_problems_are_named(files, tmp_path, capsys):
    args = [str(files["half_map_1"]), str(files["half_map_2"]), "--seq-file",
            str(files["sequence"]), "--quiet", "--output-dir"]
    before = files["a_file"].read_text()
    for out, message in ((files["a_file"], "is a file, not a folder"),
                         (files["a_file"] / "sub", "a_file.txt is a file")):
        code, err = _run(args + [str(out)], capsys)
        assert code == 2 and message in err and str(files["a_file"]) in err, err
    assert files["a_file"].read_text() == before
    # an input file where an output would go
    out = tmp_path / "out"
    out.mkdir()
    clash = out / "initial_map.mrc"
    clash.write_bytes(files["half_map_1"].read_bytes())
    code, err = _run([str(clash), str(files["half_map_2"]), "--seq-file",
                      str(files["sequence"]), "--output-dir", str(out)], capsys)
    assert code == 2 and "initial_map.mrc" in err and "overwrite" in err, err
    assert clash.read_bytes() == files["half_map_1"].read_bytes()


def test_unwritable_output_folder_is_named(files, tmp_path, capsys):
    args = [str(files["half_map_1"]), str(files["half_map_2"]), "--seq-file",
            str(files["sequence"]), "--quiet", "--output-dir"]
    if os.geteuid() != 0:  # root writes in read-only folders
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        try:
            code, err = _run(args + [str(ro / "out")], capsys)
        finally:
            ro.chmod(0o755)
        assert code == 2 and "cannot write" in err and str(ro) in err, err
        assert list(ro.iterdir()) == []
    system = Path("/sys")  # sysfs: no new folders, even for root
    if system.is_dir() and not _can_make_folder_in(system):
        code, err = _run(args + [str(system / "resolvecryoem_out")], capsys)
        assert code == 2 and "cannot write" in err, err
    elif os.geteuid() == 0:
        pytest.skip("running as root and /sys accepts new folders: no unwritable folder here")


def _can_make_folder_in(folder) -> bool:
    try:
        os.rmdir(tempfile.mkdtemp(dir=folder))
        return True
    except OSError:
        return False


def _signal_mid_run(argv, signum, env) -> tuple:
    """Start ``argv``, wait until it is inside the density-modification cycles, send it
    ``signum``; (return code, stderr)."""
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env)
    try:
        for line in child.stdout:
            if "density modification cycle 2/" in line:
                break
        child.send_signal(signum)
        _, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    return child.returncode, err


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_interrupted_run_exits_cleanly(files, tmp_path, signum, code):
    """A child process signalled mid-run: the documented exit code, one line, no traceback,
    no state or temporary files left."""
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    returncode, err = _signal_mid_run(
        [sys.executable, "-m", "resolvecryoem.cli", str(files["half_map_1"]),
         str(files["half_map_2"]), "--seq-file", str(files["sequence"]), "--output-dir",
         str(out), "--cycles", "100"], signum, env)
    assert returncode == code, err
    assert f"interrupted by {signal.Signals(signum).name}" in err and "Traceback" not in err
    assert not out.exists(), sorted(out.rglob("*"))  # the run made it: gone, like the rest


def test_after_sigkill_the_next_run_cleans_up_and_publishes_a_whole_set(files, tmp_path):
    """SIGKILL cannot be caught: the state stays behind; the next run removes it, says so,
    and keeps the user's files."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    argv = [sys.executable, "-m", "resolvecryoem.cli", str(files["half_map_1"]),
            str(files["half_map_2"]), "--seq-file", str(files["sequence"]), "--output-dir",
            str(out)]
    _signal_mid_run(argv + ["--cycles", "100"], signal.SIGKILL, env)
    assert (out / ".state").is_dir()  # what SIGKILL leaves
    done = subprocess.run(argv + ["--cycles", "1"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "removed the state folder" in done.stdout
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["notes.txt", "denmod_map.mrc", "denmod_half_map_1.mrc",
                            "denmod_half_map_2.mrc", "initial_map.mrc", "results.json",
                            "resolvecryoem.log"])
