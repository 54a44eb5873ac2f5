"""One command per stage of the procedure, on the state directory (no Scipion needed).

    python -m resolvecryoem.stages prepare HALF_MAP_1 HALF_MAP_2 --output-dir OUT [--params P.json]
                                   [--seq-file S] [--full-map F] [--mask M] [--symmetry-file N]
                                   [keyword flags, as for the resolvecryoem command]
    python -m resolvecryoem.stages half OUT/.state 1        (and 2: independent, run side by side)
    python -m resolvecryoem.stages model OUT/.state 1 0     (with --model: one copy of one half;
                                                             every (half, copy) independent)
    python -m resolvecryoem.stages model-half OUT/.state 1  (with --model: half 1's composite)
    python -m resolvecryoem.stages finish OUT/.state

Each calls one function of :mod:`resolvecryoem.core.pipeline` (``prepare``, ``modify_half``,
``finish``), so a workflow engine or a cluster script can run the stages as separate jobs: the
Scipion protocol runs them this way, and with ``QUEUE_FOR_JOBS = Y`` each becomes its own queue
job.  Every stage prints its peak memory at the end (the figure a job should ask for).

Threads: the FFT threads are fixed at ``prepare`` (``--nproc``; 0 = every CPU this job was
granted: ``SLURM_CPUS_PER_TASK`` when set, else the process's CPU affinity) and never exceed
what the job was granted.  ``half`` and ``finish`` use the threads stored in the state.

Errors: a bad input prints ``resolvecryoem: error: ...`` and exits with 2; any other failure
prints its traceback and exits with 1.  ``--error-file`` keeps a copy of that text (the protocol
shows it in its log, also when the stage ran as a queue job with its own stderr file).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import traceback

from .core.allocator import reuse_freed_memory
from .core.errors import InputError

STAGES = ("prepare", "half", "model", "model-half", "finish")


def granted_cpus() -> int:
    """CPUs this process may use: the SLURM allocation when inside a job, else its affinity."""
    slurm = os.environ.get("SLURM_CPUS_PER_TASK")
    if slurm and slurm.isdigit() and int(slurm) > 0:
        return int(slurm)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MB (ru_maxrss is in kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def build_parser() -> argparse.ArgumentParser:
    from .cli import add_param_arguments
    p = argparse.ArgumentParser(prog="python -m resolvecryoem.stages",
                                description="Run one stage of density modification.")
    sub = p.add_subparsers(dest="stage", required=True)
    pre = sub.add_parser("prepare", help="read, check, box, sharpen, mask; write the state")
    pre.add_argument("half_map_1")
    pre.add_argument("half_map_2")
    pre.add_argument("--output-dir", required=True)
    pre.add_argument("--params", help="JSON of the parameters (as in results.json); keyword "
                                      "flags given as well override its values")
    pre.add_argument("--seq-file")
    pre.add_argument("--full-map")
    pre.add_argument("--mask")
    pre.add_argument("--model")
    pre.add_argument("--symmetry-file")
    add_param_arguments(pre)
    half = sub.add_parser("half", help="density-modify one half map (1 or 2)")
    half.add_argument("state_dir")
    half.add_argument("which", type=int, choices=(1, 2))
    mod = sub.add_parser("model", help="refine one randomised copy of the model against one "
                                       "half map (with --model at prepare)")
    mod.add_argument("state_dir")
    mod.add_argument("which", type=int, choices=(1, 2))
    mod.add_argument("copy", type=int)
    mh = sub.add_parser("model-half", help="one half map's model target and composite (after "
                                           "its 'model' copies)")
    mh.add_argument("state_dir")
    mh.add_argument("which", type=int, choices=(1, 2))
    fin = sub.add_parser("finish", help="recombine, estimate resolution, write the outputs")
    fin.add_argument("state_dir")
    for s in (pre, half, mod, mh, fin):
        s.add_argument("--error-file", help="also write the error message here on failure")
    return p


def stage_params(args):
    """The parameters of ``prepare``: --params JSON, then flags, threads capped to the job."""
    from .core.params import DensityModificationParams, param_fields
    values = {}
    if args.params:
        try:
            with open(args.params) as fh:
                values = json.load(fh)
        except (OSError, ValueError) as e:
            raise InputError(f"--params {args.params}: {e}") from None
    names = {f.name for f in param_fields()}
    values.update({k: v for k, v in vars(args).items() if k in names})
    params = DensityModificationParams.from_dict(values)
    cpus = granted_cpus()
    if params.nproc <= 0 or params.nproc > cpus:
        params.nproc = cpus
    return params


def run_stage(args, log=print):
    from .core import pipeline
    if args.stage == "prepare":
        params = stage_params(args)
        log(f"prepare: {params.nproc} FFT thread(s) ({granted_cpus()} CPU(s) granted)")
        pipeline.prepare(args.half_map_1, args.half_map_2, args.output_dir, params,
                         seq_file=args.seq_file, full_map=args.full_map, mask=args.mask,
                         model=args.model, symmetry_file=args.symmetry_file, log=log)
        return
    _check_state(args.state_dir, log)
    if args.stage == "half":
        pipeline.modify_half(args.state_dir, args.which, log=log)
    elif args.stage == "model":
        pipeline.refine_model(args.state_dir, args.which, args.copy, log=log)
    elif args.stage == "model-half":
        pipeline.model_half(args.state_dir, args.which, log=log)
    else:
        pipeline.finish(args.state_dir, log=log)


def _check_state(state_dir, log):
    path = os.path.join(state_dir, "meta.json")
    if not os.path.exists(path):
        raise InputError(f"{state_dir}: no meta.json; run 'prepare' first (or the state was "
                         f"already consumed by 'finish')")
    with open(path) as fh:
        nproc = json.load(fh)["parameters"].get("nproc", 0)
    if nproc > granted_cpus():
        log(f"warning: the state asks for {nproc} FFT threads but this job was granted "
            f"{granted_cpus()} CPU(s)")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    reuse_freed_memory()
    try:
        run_stage(args)
    except (InputError, NotImplementedError) as e:
        return _fail(args, f"resolvecryoem: error: {e}", 2)
    except BaseException as e:  # noqa: BLE001 - every failure must reach the caller's log
        if isinstance(e, SystemExit):
            raise
        return _fail(args, traceback.format_exc() + f"resolvecryoem: stage {args.stage} "
                     f"failed: {e!r}", 1)
    print(f"{args.stage}: done, peak memory {peak_memory_mb():.0f} MB")
    return 0


def _fail(args, text, code) -> int:
    print(text, file=sys.stderr)
    if args.error_file:
        with open(args.error_file, "w") as fh:
            fh.write(text + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
