"""The Scipion protocol through a real SLURM queue, in both of Scipion's queue modes.

Needs a running SLURM cluster (sbatch, squeue and an idle node): CI starts a one-node cluster
with ../shared/slurm/start-local-slurm.sh before the tests.  Without one, every test here is
skipped and says why.  The host configuration is written here (the README shows the same).
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import numpy as np
import pytest

pytest.importorskip("pwem")

SLURMCTLD_LOG = "/var/log/slurm/slurmctld.log"

# A Scipion host configuration for a SLURM queue (the README's example).
HOSTS_CONF = """[localhost]
PARALLEL_COMMAND = mpirun -np %_(JOB_NODES)d %_(COMMAND)s
NAME = SLURM
MANDATORY = False
SUBMIT_COMMAND = sbatch %_(JOB_SCRIPT)s
CANCEL_COMMAND = scancel %_(JOB_ID)s
CHECK_COMMAND = squeue -h -j %_(JOB_ID)s
SUBMIT_TEMPLATE = #!/bin/bash
    #SBATCH -J %_(JOB_NAME)s
    #SBATCH -o %_(JOB_LOGS)s.out
    #SBATCH -e %_(JOB_LOGS)s.err
    #SBATCH -p %_(JOB_QUEUE)s
    #SBATCH --ntasks=1
    #SBATCH --cpus-per-task=%_(JOB_THREADS)d
    %_(JOB_COMMAND)s
QUEUES = {"main": []}
"""
# No JOB_DONE_REGEX: squeue lists a job only while it is pending or running. An empty
# JOB_DONE_REGEX matches any output, so pyworkflow would take every step job as finished as
# soon as it is submitted; the protocol refuses such a host (tested below).


def _slurm_problem():
    """Why SLURM cannot be used here, or None."""
    for cmd in ("sbatch", "squeue", "sinfo"):
        if shutil.which(cmd) is None:
            return (f"SLURM is not installed ({cmd} not found); CI starts a one-node cluster "
                    f"with ../shared/slurm/start-local-slurm.sh (as root)")
    try:
        state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True,
                               timeout=20).stdout.split()
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"sinfo failed: {e}"
    if not any(s.rstrip("*") in ("idle", "mixed", "allocated") for s in state):
        return (f"no SLURM node is up (sinfo says {state or 'nothing'}); start the cluster "
                f"with ../shared/slurm/start-local-slurm.sh")
    if not os.access(SLURMCTLD_LOG, os.R_OK):
        return f"the controller log {SLURMCTLD_LOG} is not readable"
    return None


_problem = _slurm_problem()
pytestmark = pytest.mark.skipif(_problem is not None, reason=str(_problem))


def _submitted_jobs(offset):
    """Job ids the controller accepted since byte ``offset`` of its log."""
    with open(SLURMCTLD_LOG, errors="replace") as fh:
        fh.seek(offset)
        text = fh.read()
    return [int(m) for m in re.findall(r"_slurm_rpc_submit_batch_job: JobId=(\d+)", text)]


@pytest.fixture(scope="module")
def project():
    from pyworkflow.project import Manager
    from pwem.protocols import ProtImportSequence, ProtImportVolumes
    from resolvecryoem.core.simulate import example_case
    tmp = tempfile.mkdtemp(prefix="resolvecryoem-slurm-")
    hosts = os.path.join(tmp, "hosts.conf")
    with open(hosts, "w") as fh:
        fh.write(HOSTS_CONF)
    proj = Manager().createProject(f"TestSlurm_{os.getpid()}", hostsConf=hosts)
    cwd = os.getcwd()
    os.chdir(proj.path)  # pyworkflow launches protocols from the project folder
    case = example_case(os.path.join(tmp, "data"), box=48, resolution_A=4.0, seed=5)
    p = case.paths
    imp = proj.newProtocol(ProtImportVolumes, filesPath=str(p["truth"]),
                           samplingRate=case.voxel_size, setHalfMaps=True,
                           half1map=str(p["half_map_1"]), half2map=str(p["half_map_2"]))
    proj.launchProtocol(imp, wait=True)
    seq = proj.newProtocol(ProtImportSequence, inputSequenceName="adk",
                           inputProteinSequence=ProtImportSequence.IMPORT_FROM_PLAIN_TEXT,
                           inputRawSequence=case.sequence.split("\n", 1)[1].replace("\n", ""))
    proj.launchProtocol(seq, wait=True)
    local = _run(proj, imp, seq, queue=None)
    yield proj, imp, seq, local
    os.chdir(cwd)
    shutil.rmtree(tmp, ignore_errors=True)


def _run(proj, imp, seq, queue, timeout_s=900, protocol=None):
    """Launch the protocol (locally, or through the queue with QUEUE_FOR_JOBS = queue; or
    the given protocol as it is set) and wait for it to end."""
    from resolvecryoem.protocols import ProtResolveCryoEM
    prot = protocol or proj.newProtocol(ProtResolveCryoEM, inputVolume=imp.outputVolume,
                                        inputSequence=seq.outputSequence)
    if queue is not None:
        prot._useQueue.set(True)
        prot._queueParams.set(json.dumps(["main", {"QUEUE_FOR_JOBS": queue}]))
    proj.launchProtocol(prot, wait=queue is None and protocol is None)
    end = time.time() + timeout_s
    from pyworkflow.protocol import getProtocolFromDb
    while True:
        # The protocol's own run.db, as the job writes it (the project's liveness check
        # would consult this process's host configuration instead of the job's).
        prot = getProtocolFromDb(proj.path, prot.getDbPath(), prot.getObjId())
        if prot.isFinished() or prot.isFailed() or prot.isAborted():
            break
        assert time.time() < end, f"{prot.getRunName()} still {prot.getStatus()} after " \
                                  f"{timeout_s} s (squeue: {_squeue()})"
        time.sleep(2)
    assert prot.isFinished(), f"{prot.getRunName()} {prot.getStatus()}: " \
                              f"{prot.getErrorMessage()}"
    return prot


def _squeue():
    return subprocess.run(["squeue", "-h"], capture_output=True, text=True).stdout.strip()


def _denmod(prot):
    from resolvecryoem.core import mapio
    return mapio.read_map(os.path.abspath(prot.outputVolume.getFileName()))[0]


def _job_scripts(prot):
    logs = prot._getLogsPath()
    return sorted(f for f in os.listdir(logs) if f.endswith(".job"))


def test_whole_protocol_as_one_job(project):
    proj, imp, seq, local = project
    offset = os.path.getsize(SLURMCTLD_LOG)
    prot = _run(proj, imp, seq, queue="N")
    jobs = _submitted_jobs(offset)
    assert len(jobs) == 1, f"expected one job for the protocol, the controller got {jobs}"
    scripts = _job_scripts(prot)
    assert len(scripts) == 1, scripts
    text = open(os.path.join(prot._getLogsPath(), scripts[0])).read()
    # the job asks for what runs in it: two half-map steps side by side, 1 thread each
    assert "--cpus-per-task=2" in text, text
    np.testing.assert_array_equal(_denmod(prot), _denmod(local))


def test_each_step_a_job_and_output_equals_the_local_run(project):
    proj, imp, seq, local = project
    offset = os.path.getsize(SLURMCTLD_LOG)
    prot = _run(proj, imp, seq, queue="Y")
    jobs = _submitted_jobs(offset)
    # prepare, half map 1, half map 2, finish: one job each (the light steps stay inside
    # the protocol's process)
    assert len(jobs) == 4, f"expected 4 step jobs, the controller got {jobs}"
    scripts = _job_scripts(prot)
    assert len(scripts) == 4, scripts
    for name in scripts:
        text = open(os.path.join(prot._getLogsPath(), name)).read()
        assert "--cpus-per-task=1" in text, text  # threads per step, never more
        assert "resolvecryoem.stages" in text, text
    commands = " ".join(open(os.path.join(prot._getLogsPath(), n)).read() for n in scripts)
    for stage in ('"prepare"', '"half" ', '"finish"'):
        assert stage.strip() in commands
    # the two half-map jobs ran side by side
    from datetime import datetime
    spans = [(datetime.fromisoformat(s.initTime.get()), datetime.fromisoformat(s.endTime.get()))
             for s in prot.loadSteps() if s.funcName.get() == "modifyHalfStep"]
    assert max(a for a, _ in spans) < min(b for _, b in spans), spans
    np.testing.assert_array_equal(_denmod(prot), _denmod(local))


def test_empty_job_done_regex_is_refused_before_the_run(project):
    """An empty JOB_DONE_REGEX (as in ../shared/slurm/hosts.conf.slurm) makes pyworkflow
    take every step job as finished at submission: the form says so instead."""
    proj, imp, seq, _ = project
    from resolvecryoem.protocols import ProtResolveCryoEM
    prot = proj.newProtocol(ProtResolveCryoEM, inputVolume=imp.outputVolume,
                            inputSequence=seq.outputSequence)
    prot._useQueue.set(True)
    prot._queueParams.set(json.dumps(["main", {"QUEUE_FOR_JOBS": "Y"}]))
    assert prot.validate() == []
    queue = proj.getHostConfig("localhost").getQueueSystem()
    saved = queue.jobDoneRegex.get()
    queue.jobDoneRegex.set("")
    try:
        assert any("JOB_DONE_REGEX" in e for e in prot.validate()), prot.validate()
    finally:
        queue.jobDoneRegex.set(saved)


def test_stopping_the_protocol_cancels_its_step_jobs(project):
    proj, imp, seq, _ = project
    from resolvecryoem.protocols import ProtResolveCryoEM
    prot = proj.newProtocol(ProtResolveCryoEM, inputVolume=imp.outputVolume,
                            inputSequence=seq.outputSequence)
    prot._useQueue.set(True)
    prot._queueParams.set(json.dumps(["main", {"QUEUE_FOR_JOBS": "Y"}]))
    proj.launchProtocol(prot, wait=False)
    prefix = f"{prot.getObjId()}-"

    def jobs():
        out = subprocess.run(["squeue", "-h", "-o", "%i %j"], capture_output=True,
                             text=True).stdout.split("\n")
        return [line.split()[0] for line in out if line.split()[1:2]
                and line.split()[1].startswith(prefix)]

    end = time.time() + 120
    while not jobs():
        assert time.time() < end, "no step job reached the queue within 120 s"
        time.sleep(0.2)
    running = jobs()
    offset = os.path.getsize(SLURMCTLD_LOG)
    proj.stopProtocol(prot)
    end = time.time() + 30
    while jobs():
        assert time.time() < end, f"step jobs still queued after stopping: {jobs()}"
        time.sleep(1)
    assert prot.isAborted()
    with open(SLURMCTLD_LOG, errors="replace") as fh:
        fh.seek(offset)
        log = fh.read()
    assert any(f"REQUEST_KILL_JOB JobId={j} " in log for j in running), (running, log)


def test_a_failing_step_job_fails_the_protocol_with_its_error(project):
    """A half map cut short passes the header checks; its prepare job fails on the node and
    the job's error text reaches the protocol's message and log."""
    proj, imp, seq, _ = project
    from pwem.protocols import ProtImportVolumes
    from resolvecryoem.protocols import ProtResolveCryoEM
    src = imp.outputVolume.getHalfMaps(asList=True)
    folder = tempfile.mkdtemp(prefix="resolvecryoem-slurm-cut-")
    bad = os.path.join(folder, "cut_half_map_1.mrc")
    data = open(os.path.join(proj.path, src[0].split(":")[0]), "rb").read()
    with open(bad, "wb") as fh:
        fh.write(data[: len(data) // 2])
    cut = proj.newProtocol(ProtImportVolumes,
                           filesPath=os.path.join(proj.path, src[1].split(":")[0]),
                           samplingRate=imp.outputVolume.getSamplingRate(), setHalfMaps=True,
                           half1map=bad, half2map=os.path.join(proj.path, src[1].split(":")[0]))
    proj.launchProtocol(cut, wait=True)
    prot = proj.newProtocol(ProtResolveCryoEM, inputVolume=cut.outputVolume,
                            inputSequence=seq.outputSequence)
    prot._useQueue.set(True)
    prot._queueParams.set(json.dumps(["main", {"QUEUE_FOR_JOBS": "Y"}]))
    with pytest.raises(AssertionError) as failure:
        _run(proj, imp, seq, queue=None, protocol=prot)
    message = str(failure.value)
    assert "stage 'prepare' failed" in message and "cut_half_map_1.mrc" in message, message
    assert len(_job_scripts(prot)) == 1  # the job ran on the queue
    log = "".join(open(f).read() for f in prot.getLogPaths() if os.path.exists(f))
    assert "resolvecryoem: error:" in log
    shutil.rmtree(folder, ignore_errors=True)
