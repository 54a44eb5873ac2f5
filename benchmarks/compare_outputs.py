"""Two output folders of resolvecryoem on the same inputs: are the maps the same?

    python benchmarks/compare_outputs.py REF_DIR NEW_DIR [--truth T --envelope E]

For each map of REF_DIR: the largest and the rms difference from NEW_DIR's, over REF's rms
(0 for bit-identical outputs); the reported resolutions, verdict and R-values that differ;
with a truth and envelope (.mrc or .npy, the maps' box), FSC(map, truth) of both delivered
maps (benchmarks/metrics.py).  For checking that a change meant to keep the outputs keeps
them (code of two commits run on the same half maps).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.metrics import truth_scores  # noqa: E402
from resolvecryoem.core import mapio  # noqa: E402

REPORTED = ("resolution", "verdict", "r_value")


def map_differences(ref: Path, new: Path) -> dict:
    """{map name: (max |diff| / rms, rms diff / rms)} of REF's maps against NEW's."""
    out = {}
    for f in sorted(ref.glob("*.mrc")):
        a = mapio.read_map(f)[0].astype(np.float64)
        b = mapio.read_map(new / f.name)[0].astype(np.float64)
        sd = max(float(a.std()), 1e-30)
        out[f.name] = (float(np.abs(a - b).max()) / sd,
                       float(np.sqrt(np.mean((a - b) ** 2))) / sd)
    return out


def reported_differences(ref: Path, new: Path) -> list:
    """(key, REF value, NEW value) of the reported figures in results.json that differ."""
    a, b = (_flat(json.loads((d / "results.json").read_text())) for d in (ref, new))
    return [(k, a[k], b.get(k)) for k in sorted(a)
            if any(w in k for w in REPORTED) and not k.startswith("timings.")
            and a[k] != b.get(k)]


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        elif isinstance(v, (int, float, str, bool)):
            out[prefix + k] = v
    return out


def _load(path) -> np.ndarray:
    return np.load(path) if str(path).endswith(".npy") else mapio.read_map(path)[0]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ref", type=Path)
    p.add_argument("new", type=Path)
    p.add_argument("--truth", help="true map (.mrc or .npy)")
    p.add_argument("--envelope", help="molecular envelope of the truth (.mrc or .npy)")
    args = p.parse_args(argv)
    for name, (worst, rms) in map_differences(args.ref, args.new).items():
        print(f"{name:28s} max |diff| / rms {worst:.2e}   rms diff / rms {rms:.2e}")
    for key, a, b in reported_differences(args.ref, args.new):
        print(f"differs: {key}: {a} -> {b}")
    if args.truth and args.envelope:
        truth, env = _load(args.truth), _load(args.envelope)
        for d in (args.ref, args.new):
            m, info = mapio.read_map(d / "denmod_map.mrc")
            s = truth_scores(m, truth, info.voxel_size, env)
            print(d, {k: round(v, 4) for k, v in s.items() if isinstance(v, float)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
