"""Is what the program reports true of the map it delivers?  (issue: honest figures)

For each option that changes the delivered map, run on half maps made from a real model
(truth known) and put side by side:
- the resolution the run REPORTS after density modification (results.json),
- the resolution of the DELIVERED map against the truth (FSC(denmod_map, truth) = 0.5),
- the verdict.
Also: non-independent half maps, pure noise, and the half-map average for reference.

    python benchmarks/honesty.py            # writes benchmarks/results/honesty.md

Cases (benchmarks/run.py's make_case): 1AKE at 3.5 A with stationary coloured noise, and the
same model reconstructed from simulated particle images (noise that varies in space).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from resolvecryoem.core import mapio  # noqa: E402
from resolvecryoem.core.errors import InputError  # noqa: E402
from resolvecryoem.core.params import DensityModificationParams  # noqa: E402
from resolvecryoem.core.pipeline import run  # noqa: E402
from resolvecryoem.core.scoring import resolution_against_truth  # noqa: E402
from resolvecryoem.core.validation import verdict  # noqa: E402

OPTIONS = [
    ("default", {}),
    ("--sigma-weighting", dict(sigma_weighting=True)),
    ("--real-space-weighting", dict(real_space_weighting=True)),
    ("--local-sharpening", dict(local_sharpening=True)),
    ("--resolution 6", dict(resolution=6.0)),
    ("--dm-resolution 10", dict(dm_resolution=10.0)),
    ("--no-final-scale-with-fsc-ref", dict(final_scale_with_fsc_ref=False)),
    ("--blur-by-resolution", dict(blur_by_resolution=True)),
    ("--no-final-solvent-flattening", dict(final_solvent_flattening=False)),
]


def one_run(h1, h2, seq, out, params):  # noqa: D103
    """(results dict or None, verdict or None, error text or None)."""
    try:
        res = run(h1, h2, out, params, seq_file=seq, log=None)
    except InputError as e:
        return None, None, str(e)
    return res, verdict(out), None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--model", default="1ake")
    p.add_argument("--resolution", type=float, default=3.5)
    p.add_argument("--kinds", default="stationary,reconstruction",
                   help="noise of the half maps: stationary (coloured, the same everywhere) "
                        "and/or reconstruction (projections with CTF and alignment errors, "
                        "reconstructed by Fourier insertion: noise that varies in space)")
    p.add_argument("--output", default=str(HERE / "results" / "honesty.md"))
    args = p.parse_args(argv)
    from benchmarks.run import make_case
    work = Path(tempfile.mkdtemp(prefix="honesty-"))
    rows = []
    try:
        for kind in args.kinds.split(","):
            case = make_case(args.model, args.resolution, kind=kind)
            rows += option_rows(case, work / kind)
        rows += independence_rows(make_case(args.model, args.resolution), work / "special")
        text = "\n".join(rows) + "\n"
        print(text)
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _write_pair(case, d, h1, h2):
    d.mkdir(parents=True, exist_ok=True)
    info = mapio.map_info(case["shape"], case["voxel"], case["start"])
    mapio.write_map(d / "h1.mrc", np.asarray(h1, np.float32), info)
    mapio.write_map(d / "h2.mrc", np.asarray(h2, np.float32), info)
    return d / "h1.mrc", d / "h2.mrc"


def option_rows(case, work) -> list:
    """Reported against delivered, for every option, on one case."""
    v = case["voxel"]
    score = lambda m: (resolution_against_truth(m, case["truth"], v),  # noqa: E731
                       resolution_against_truth(m, case["truth"], v, case["envelope"]))
    a_whole, a_env = score(0.5 * (case["h1"] + case["h2"]))
    h1, h2 = _write_pair(case, work / "inputs", case["h1"], case["h2"])
    rows = [f"### {case['name']} ({case['shape'][0]}^3, voxel {v} A)", "",
            f"Half-map average against the truth: FSC = 0.5 at {a_whole:.2f} A whole box, "
            f"{a_env:.2f} A inside the envelope.", "",
            "| run | reported before, whole / inside | reported after, whole / inside | "
            "delivered map vs truth, whole / envelope | verdict |", "|---|---|---|---|---|"]
    for label, kw in OPTIONS:
        out = work / label.strip("-").replace(" ", "_")
        res, ver, err = one_run(h1, h2, None, out,
                                DensityModificationParams(molecular_mass=case["mass"], **kw))
        if err:
            rows.append(f"| `{label}` | refused: {err} | | | |")
            continue
        w, e = score(mapio.read_map(out / "denmod_map.mrc")[0])
        r = res["resolution"]
        rows.append(f"| `{label}` | {_fmt(r['half_map_fsc'])} / "
                    f"{_fmt(r['before_envelope'])} | {_fmt(r['after_corrected'])} / "
                    f"{_fmt(r['after_envelope'])} | {w:.2f} / {e:.2f} | {ver.verdict} |")
    return rows + [""]


def independence_rows(case, work) -> list:
    rows = ["### Half maps that are not independent, and no signal", "",
            "| input | reported before | reported after | warnings | verdict |",
            "|---|---|---|---|---|"]
    rng = np.random.default_rng(5)
    shape = case["shape"]
    noise = lambda: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
    shared = noise() * float(np.std(case["h1"] - case["h2"]))
    specials = {
        "50% shared noise": (case["h1"] + shared, case["h2"] + shared),
        "nearly identical": (case["h1"], case["h1"] + 1e-3 * noise()),
        "pure noise": (noise(), noise()),
    }
    for label, (x1, x2) in specials.items():
        d = work / label.replace(" ", "_").replace("%", "pc")
        h1, h2 = _write_pair(case, d, x1, x2)
        res, ver, err = one_run(h1, h2, None, d / "out",
                                DensityModificationParams(molecular_mass=case["mass"]))
        if err:
            rows.append(f"| {label} | refused: {err.split(': ', 1)[-1][:160]} | | | |")
            continue
        r = res["resolution"]
        rows.append(f"| {label} | {_fmt(r['half_map_fsc'])} | {_fmt(r['after_corrected'])} | "
                    f"{'; '.join(res['warnings'])[:160]} | {ver.verdict} |")
    return rows


def _fmt(x):
    return "none" if x is None else f"{x:.2f}"


if __name__ == "__main__":
    main()
