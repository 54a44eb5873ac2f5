"""Is what the program reports true of the map it delivers?  (issue: honest figures)

For each option that changes the delivered map, run on half maps made from a real model
(truth known) and put side by side:
- the resolution the run REPORTS after density modification (results.json),
- the resolution of the DELIVERED map against the truth (FSC(denmod_map, truth) = 0.5),
- the verdict.
Also: non-independent half maps, pure noise, and the half-map average for reference.

    python benchmarks/honesty.py            # writes benchmarks/results/honesty.md

Cases: 1AKE (bundled) at 3.5 A in a 72^3 box, stationary coloured noise (simulate.py).
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
from resolvecryoem.core.simulate import example_case  # noqa: E402
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
]


def one_run(h1, h2, seq, out, params):
    """(results dict or None, verdict or None, error text or None)."""
    try:
        res = run(h1, h2, out, params, seq_file=seq, log=None)
    except InputError as e:
        return None, None, str(e)
    return res, verdict(out), None


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--box", type=int, default=72)
    p.add_argument("--resolution", type=float, default=3.5)
    p.add_argument("--output", default=str(HERE / "results" / "honesty.md"))
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="honesty-"))
    try:
        case = example_case(work / "inputs", box=args.box, resolution_A=args.resolution)
        v = case.voxel_size
        score = lambda m: (resolution_against_truth(m, case.truth, v),  # noqa: E731
                           resolution_against_truth(m, case.truth, v, case.envelope))
        avg = 0.5 * (case.half_map_1 + case.half_map_2)
        a_whole, a_env = score(avg)
        rows = [f"1AKE at {args.resolution} A, {args.box}^3, voxel {v} A. Half-map average "
                f"against the truth: FSC=0.5 at {a_whole:.2f} A whole box, {a_env:.2f} A "
                f"inside the envelope.", "",
                "| run | reported before, whole / inside | reported after, whole / inside | "
                "delivered map vs truth, whole / envelope | verdict |", "|---|---|---|---|---|"]
        for label, kw in OPTIONS:
            out = work / label.strip("-").replace(" ", "_")
            res, ver, err = one_run(case.paths["half_map_1"], case.paths["half_map_2"],
                                    case.paths["sequence"], out,
                                    DensityModificationParams(**kw))
            if err:
                rows.append(f"| `{label}` | refused: {err} | | | |")
                continue
            d = mapio.read_map(out / "denmod_map.mrc")[0]
            w, e = score(d)
            r = res["resolution"]
            rows.append(f"| `{label}` | {_fmt(r['half_map_fsc'])} / "
                        f"{_fmt(r['before_envelope'])} | {_fmt(r['after_corrected'])} / "
                        f"{_fmt(r['after_envelope'])} | {w:.2f} / {e:.2f} | {ver.verdict} |")
        rows += ["", "Half maps that are not independent, and no signal:", "",
                 "| input | reported before | reported after | warnings | verdict |",
                 "|---|---|---|---|---|"]
        rng = np.random.default_rng(5)
        info = mapio.map_info(case.half_map_1.shape, v, case.start_A)
        noise = lambda: rng.standard_normal(case.half_map_1.shape).astype(np.float32)  # noqa
        shared = noise() * float(np.std(case.half_map_1 - case.half_map_2))
        specials = {
            "50% shared noise": (case.half_map_1 + shared, case.half_map_2 + shared),
            "nearly identical": (case.half_map_1, case.half_map_1 + 1e-3 * noise()),
            "pure noise": (noise(), noise()),
        }
        for label, (x1, x2) in specials.items():
            d = work / label.replace(" ", "_").replace("%", "pc")
            d.mkdir()
            mapio.write_map(d / "h1.mrc", x1.astype(np.float32), info)
            mapio.write_map(d / "h2.mrc", x2.astype(np.float32), info)
            res, ver, err = one_run(d / "h1.mrc", d / "h2.mrc", case.paths["sequence"],
                                    d / "out", DensityModificationParams())
            if err:
                rows.append(f"| {label} | refused: {err} | | | |")
                continue
            r = res["resolution"]
            rows.append(f"| {label} | {_fmt(r['half_map_fsc'])} | "
                        f"{_fmt(r['after_corrected'])} | "
                        f"{'; '.join(res['warnings'])[:200]} | {ver.verdict} |")
        text = "\n".join(rows) + "\n"
        print(text)
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _fmt(x):
    return "none" if x is None else f"{x:.2f}"


if __name__ == "__main__":
    main()
