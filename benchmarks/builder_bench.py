"""Benchmark of the automatic model builder against deposited models (ALGORITHM.md section 10).

    python benchmarks/builder_bench.py                 # all cases, into the half-map average
    python benchmarks/builder_bench.py --quick         # 1AKE at 3 A only
    python benchmarks/builder_bench.py --denmod        # also into our density-modified map

Half maps are simulated (resolvecryoem.core.simulate) from deposited models at 3.0 and 3.5 A
(voxel = resolution / 3).  The builder gets the half-map average (and with --denmod the
density-modified full map of ``pipeline.run`` on the same half maps), with the residue count
of the deposited model as its sequence bound, and once without it.  Reported per build: the
fraction of deposited C-alpha within 1.5 A and 3 A of a built one, the fraction of built
C-alpha within 3 A of a deposited one, fragments, wrong-direction fragments, build seconds
(one core).  Writes benchmarks/results/builder.md and builder.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from resolvecryoem.core import mapio  # noqa: E402
from resolvecryoem.core.model_map import atom_positions, model_density, read_model  # noqa: E402
from resolvecryoem.core.models.building import build_model  # noqa: E402
from resolvecryoem.core.models.trace_metrics import ca_chains, compare_ca  # noqa: E402
from resolvecryoem.core.simulate import bundled_model, simulate_half_maps  # noqa: E402

SHARED = HERE.parent.parent / "shared" / "data"
if not SHARED.exists():
    SHARED = Path("/work/shared/data")
MODELS = {
    "1ake": bundled_model(),
    "5me2": SHARED / "emd_3488" / "5me2.pdb",
    "5a7u": SHARED / "models" / "5a7u.pdb",
}


def make_maps(path, resolution, seed=0):
    """Half maps of a deposited model, voxel resolution / 3, box 1.5 x its extent."""
    xyz = atom_positions(path)
    extent = float(np.max(xyz.max(0) - xyz.min(0)))
    voxel = round(resolution / 3.0, 3)
    n = int(2 * np.ceil(extent * 1.5 / voxel / 2))
    start = 0.5 * (xyz.max(0) + xyz.min(0))[::-1] - 0.5 * n * voxel
    truth = model_density(path, (n, n, n), voxel, start)
    h1, h2, _ = simulate_half_maps(truth, voxel, resolution, seed=seed)
    return h1, h2, voxel, start


def denmod_map(h1, h2, voxel, start, n_res):
    from resolvecryoem.core.params import DensityModificationParams
    from resolvecryoem.core.pipeline import run
    with tempfile.TemporaryDirectory() as tmp:
        info = mapio.map_info(h1.shape, voxel, start)
        p1, p2 = Path(tmp) / "h1.mrc", Path(tmp) / "h2.mrc"
        mapio.write_map(p1, h1, info)
        mapio.write_map(p2, h2, info)
        params = DensityModificationParams(molecular_mass=n_res * 110.0)
        run(p1, p2, Path(tmp) / "out", params, log=lambda *a, **k: None)
        data, info = mapio.read_map(Path(tmp) / "out" / "denmod_map.mrc")
    if data.shape != h1.shape or not np.allclose(info.start_A, start, atol=1e-3):
        raise RuntimeError("denmod_map.mrc is not in the input box")
    return data


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--denmod", action="store_true")
    ap.add_argument("--out", default=str(HERE / "results"))
    args = ap.parse_args(argv)
    cases = [("1ake", 3.0)] if args.quick else [
        (m, r) for m in ("1ake", "5me2", "5a7u") for r in (3.0, 3.5)]
    rows = []
    for name, res in cases:
        path = MODELS[name]
        if not Path(path).exists():
            print(f"{name}: {path} absent, skipped")
            continue
        deposited = read_model(path)
        n_res = sum(len(c) for c in ca_chains(deposited))
        h1, h2, voxel, start = make_maps(path, res)
        maps = {"average": 0.5 * (h1 + h2)}
        if args.denmod:
            maps["denmod"] = denmod_map(h1, h2, voxel, start, n_res)
        for map_name, arr in maps.items():
            for bound in (n_res, None):
                t = time.perf_counter()
                st, fig = build_model(arr, voxel, start, res, n_residues_max=bound, seed=0)
                secs = time.perf_counter() - t
                cmp = compare_ca(st, deposited)
                row = dict(model=name, resolution=res, map=map_name, box=arr.shape[0],
                           voxel=voxel, residue_bound=bound or "none", seconds=round(secs, 1),
                           **{k: v for k, v in fig.items()
                              if k not in ("seconds", "fragments")}, **cmp)
                rows.append(row)
                print(json.dumps(row), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cols = ["model", "resolution", "map", "box", "residue_bound", "deposited_ca", "built_ca",
            "within_1.5A", "within_3A", "built_within_3A", "fragments", "wrong_direction",
            "wrong_direction_ca",
            "scored_fragments", "steps_one_residue", "steps_two_residues", "steps_off_chain",
            "helix_residues", "strand_residues", "pseudo_atoms", "seconds"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    suffix = "_quick" if args.quick else ""
    (out / f"builder{suffix}.md").write_text(
        "# Automatic builder against deposited models\n\n"
        f"`python benchmarks/builder_bench.py{' ' + ' '.join(argv or sys.argv[1:])}`\n\n"
        + "\n".join(lines) + "\n")
    (out / f"builder{suffix}.json").write_text(json.dumps(rows, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
