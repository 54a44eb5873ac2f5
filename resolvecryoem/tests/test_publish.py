"""Publishing the output set as a whole; recovery after a run killed half-way; input checks."""
import json
import os
import signal
import subprocess
import sys

import pytest

from resolvecryoem.core import publish
from resolvecryoem.core.checks import check_inputs_unchanged, file_sha256
from resolvecryoem.core.errors import InputError
from resolvecryoem.core.interrupts import Interrupted, signals_deferred


def _stage(out, run_id, names):
    staging = out / ".state" / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    staged = {}
    for n in names:
        p = staging / n
        if n == "results.json":
            outputs = {n.split(".")[0]: n for n in names}
            p.write_text(json.dumps({"run": run_id, "outputs": outputs}))
        else:
            p.write_text(f"{run_id} {n}\n")
        staged[n] = p
    return staged


def _contents(out):
    return {p.name: p.read_text() for p in out.iterdir() if p.is_file()}


FIRST = ["denmod_map.mrc", "initial_map.mrc", "local_resolution.mrc", "resolvecryoem.log",
         "results.json"]
SECOND = ["denmod_map.mrc", "initial_map.mrc", "resolvecryoem.log", "results.json"]


def test_publish_replaces_the_previous_set_and_keeps_user_files(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    (out / "denmod_map_old_copy.mrc").write_text("mine too\n")
    publish.publish(out, _stage(out, "run1", FIRST))
    assert publish.published_names(out) == sorted(FIRST)
    publish.publish(out, _stage(out, "run2", SECOND))
    c = _contents(out)
    assert "local_resolution.mrc" not in c  # the earlier run's, not produced by this one
    assert c["notes.txt"] == "mine\n" and c["denmod_map_old_copy.mrc"] == "mine too\n"
    assert all(c[n].startswith("run2") for n in SECOND if n != "results.json")
    assert json.loads(c["results.json"])["run"] == "run2"
    assert not (out / publish.JOURNAL).exists()
    assert list((out / ".state" / "staging").iterdir()) == []


@pytest.mark.parametrize("done", [0, 1, 3, 5])
def test_a_publish_killed_after_some_moves_is_completed_by_recover(tmp_path, done):
    """SIGKILL cannot be caught: simulate one that struck after ``done`` of the moves."""
    out = tmp_path / "out"
    out.mkdir()
    publish.publish(out, _stage(out, "run1", FIRST))
    staged = _stage(out, "run2", SECOND)
    order = sorted(staged, key=lambda n: n == "results.json")
    journal = {"moves": [[os.path.relpath(staged[n], out), n] for n in order],
               "remove": ["local_resolution.mrc"]}
    (out / publish.JOURNAL).write_text(json.dumps(journal))
    if done:
        (out / "local_resolution.mrc").unlink()
    for n in order[:done]:
        os.replace(staged[n], out / n)
    (out / ".denmod_map.mrc.tmp-999999999").write_text("half-written")
    notes = publish.recover(out)
    c = _contents(out)
    assert sorted(c) == sorted(SECOND)  # the new set, whole; no temporary, no journal
    assert json.loads(c["results.json"])["run"] == "run2"
    assert all(c[n].startswith("run2") for n in SECOND if n != "results.json")
    assert any("temporary" in n for n in notes)
    assert publish.recover(out) == []  # nothing left to do


def test_signals_during_publish_wait_until_the_set_is_complete(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    staged = _stage(out, "run1", FIRST)
    real = publish._carry_out

    def carry_out_with_a_signal(o, journal):
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(10 ** 5):
            pass
        real(o, journal)

    publish._carry_out = carry_out_with_a_signal
    try:
        with pytest.raises(Interrupted):
            publish.publish(out, staged)
    finally:
        publish._carry_out = real
    assert sorted(_contents(out)) == sorted(FIRST)


def test_deferred_signals_outside_publish():
    with pytest.raises(Interrupted) as e:
        with signals_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(10 ** 5):
                pass
            done = True
    assert done and e.value.exit_code == 130


def test_a_real_sigkill_mid_publish_then_recover(tmp_path):
    """A child process publishing many staged files is killed with SIGKILL; recover() leaves
    one whole set (the old or, usually, the new), never a mix."""
    out = tmp_path / "out"
    out.mkdir()
    publish.publish(out, _stage(out, "run1", FIRST))
    code = (
        "import sys, time; from pathlib import Path; from resolvecryoem.core import publish\n"
        "import resolvecryoem.core.publish as p\n"
        "real = p._carry_out\n"
        "def slow(o, j):\n"
        "    print('journal', flush=True); time.sleep(0.3)\n"
        "    import os\n"
        "    for src, n in j['moves'][:2]: os.replace(o / src, o / n)\n"
        "    print('moved', flush=True); time.sleep(60)\n"
        "p._carry_out = slow\n"
        f"out = Path({str(out)!r})\n"
        "staged = {n: out / '.state' / 'staging' / n for n in sys.argv[1:]}\n"
        "publish.publish(out, staged)\n")
    _stage(out, "run2", SECOND)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    child = subprocess.Popen([sys.executable, "-c", code] + SECOND, stdout=subprocess.PIPE,
                             text=True, env=env)
    for line in child.stdout:
        if line.startswith("moved"):
            break
    child.kill()
    child.wait()
    mixed = _contents(out)
    assert any(v.startswith("run2") for v in mixed.values()) and "local_resolution.mrc" in \
        mixed  # a mix of the two runs, as the kill left it
    publish.recover(out)
    c = _contents(out)
    assert sorted(c) == sorted(SECOND)
    assert json.loads(c["results.json"])["run"] == "run2"


def test_changed_or_removed_inputs_are_refused(tmp_path):
    f = tmp_path / "h1.mrc"
    f.write_bytes(b"abc")
    recorded = {"half_map_1": file_sha256(f)}
    check_inputs_unchanged({"half_map_1": str(f)}, recorded)
    f.write_bytes(b"abd")
    with pytest.raises(InputError, match="h1.mrc: the half map 1 has changed"):
        check_inputs_unchanged({"half_map_1": str(f)}, recorded)
    f.unlink()
    with pytest.raises(InputError, match="h1.mrc: the half map 1 was removed"):
        check_inputs_unchanged({"half_map_1": str(f)}, recorded)


# ---- the pipeline publishing its outputs ------------------------------------------------------
@pytest.fixture(scope="module")
def case(tmp_path_factory):
    from resolvecryoem.core.simulate import example_case
    return example_case(tmp_path_factory.mktemp("pubcase"), box=40, resolution_A=5.0, seed=6)


def test_a_run_without_local_sharpening_removes_the_earlier_local_resolution(case, tmp_path):
    from resolvecryoem.core.params import DensityModificationParams
    from resolvecryoem.core.pipeline import run
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    args = (case.paths["half_map_1"], case.paths["half_map_2"], out)
    run(*args, DensityModificationParams(local_sharpening=True, cycles=1),
        seq_file=case.paths["sequence"], log=None)
    assert (out / "local_resolution.mrc").exists()
    res = run(*args, DensityModificationParams(cycles=2), seq_file=case.paths["sequence"],
              log=None)
    names = sorted(p.name for p in out.iterdir())
    assert "local_resolution.mrc" not in names and "notes.txt" in names
    assert sorted(set(names) - {"notes.txt"}) == sorted(res["outputs"].values())
    saved = json.loads((out / "results.json").read_text())
    assert saved["parameters"]["cycles"] == 2 and len(saved["r_values"]["half_map_1"]) == 2


def test_finish_refuses_inputs_changed_since_prepare(case, tmp_path):
    import shutil
    from resolvecryoem.core.params import DensityModificationParams
    from resolvecryoem.core.pipeline import finish, modify_half, prepare
    h1 = tmp_path / "h1.mrc"
    shutil.copy(case.paths["half_map_1"], h1)
    out = tmp_path / "out"
    state = prepare(h1, case.paths["half_map_2"], out, DensityModificationParams(cycles=1),
                    seq_file=case.paths["sequence"], log=None)
    modify_half(state, 1, log=None)
    modify_half(state, 2, log=None)
    shutil.copy(case.paths["half_map_2"], h1)  # replaced between the stages
    with pytest.raises(InputError, match="h1.mrc: the half map 1 has changed"):
        finish(state, log=None)
    assert not any(p.suffix == ".mrc" for p in out.iterdir())
