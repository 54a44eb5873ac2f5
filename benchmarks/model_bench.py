"""Benchmark of model-based density modification (issue 8) against truth.

    python benchmarks/model_bench.py [--resolution 3.5] [--copies 8] [--out DIR]

Case: half maps made from a real model (1AKE, as in benchmarks/run.py) at 3.5 A.  Rows:
average, standard density modification (the pipeline's run), model-based with the perfect
model, model-based with a flawed model (coordinates jittered 0.4 A rms, one segment
displaced 3 A, one segment missing, a phantom segment placed in the solvent).  Figures:
FSC(map, truth) = 0.5 inside the molecular envelope; mean density (in units of the map's rms
inside the envelope) at the phantom atoms, at the displaced segment's wrong and true
positions; correlation with the truth around the missing segment; times.

By default (route composite) the stage is run by hand from the standard run's stages
(prepare, modify_half, finish): for each half map, copies refined against its
density-modified half map and the composite half map (stage.model_half_map) in place of its
map-phasing coefficients in finish; route likelihood puts the target into map phasing
instead (likelihood.map_phasing(target=...) cycles, as modify_half does with symmetry).
``--route pipeline`` runs the program itself with the model instead
(resolvecryoem.core.pipeline.run(..., model=...)), standard run included in its time.

``--sharpening`` (with --route pipeline) runs each model also with model_sharpening and adds
the figures that per-shell scaling changes (FSC does not): real-space CC with the truth and
shell amplitudes against the Wiener-ideal FSC(map, truth) x |truth| (metrics.
sharpening_scores), the program's reported resolution and verdict, and control rows (the
standard map at the model-sharpened amplitudes).  ``--sampling`` (voxel = resolution /
sampling) and ``--dm-resolution`` measure dm_resolution finer than the automatic value.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE.parent))

from benchmarks.metrics import sharpening_scores, truth_scores  # noqa: E402
from benchmarks.run import make_case, measure_command  # noqa: E402
from resolvecryoem.core import mapio  # noqa: E402
from resolvecryoem.core.fourier import Shells, irfft  # noqa: E402
from resolvecryoem.core.histograms import DensityHistogram, flat_histogram  # noqa: E402
from resolvecryoem.core.likelihood import map_phasing  # noqa: E402
from resolvecryoem.core.models import stage  # noqa: E402
from resolvecryoem.core.models import structure as mst  # noqa: E402
from resolvecryoem.core.params import DensityModificationParams  # noqa: E402
from resolvecryoem.core.pipeline import finish, modify_half, prepare, run  # noqa: E402
from resolvecryoem.core.symmetry import ncs_spec_text  # noqa: E402
from resolvecryoem.core.recombination import half_weights  # noqa: E402
from resolvecryoem.core.sharpening import lowpass, shell_rms  # noqa: E402


def flawed_model(st, seed=0, jitter_A=0.4, displaced=(30, 41), shift=(2.0, 2.0, 1.0),
                 missing=(120, 136), phantom=(160, 169), min_gap_A=6.0):
    """(flawed Structure, dict of atom coordinates: displaced wrong/true, phantom, missing)."""
    import gemmi
    rng = np.random.default_rng(seed)
    atoms = mst.atoms_of(st)
    xyz = atoms.xyz + rng.normal(scale=jitter_A / np.sqrt(3), size=atoms.xyz.shape)
    dsel = (atoms.residue >= displaced[0]) & (atoms.residue < displaced[1])
    true_disp = atoms.xyz[dsel].copy()
    xyz[dsel] += np.asarray(shift)
    out = mst.with_coordinates(st, xyz)
    # Phantom: a copy of a surface segment pushed out into the solvent until it is
    # min_gap_A from every true atom.
    psel = (atoms.residue >= phantom[0]) & (atoms.residue < phantom[1])
    centre = atoms.xyz.mean(0)
    direction = atoms.xyz[psel].mean(0) - centre
    direction /= np.linalg.norm(direction)
    from scipy.spatial import cKDTree
    tree = cKDTree(atoms.xyz)
    step = 0.0
    while True:
        step += 0.5
        p = atoms.xyz[psel] + step * direction
        if tree.query(p)[0].min() >= min_gap_A:
            break
    ph = gemmi.Chain("P")
    k = 0
    rlist = [r for ch in st[0] for r in ch]
    for ri in range(phantom[0], phantom[1]):
        r = rlist[ri].clone()
        for a in r:
            a.pos = gemmi.Position(*p[k])
            k += 1
        ph.add_residue(r)
    out[0].add_chain(ph)
    # Missing segment: delete those residues (they stay in the truth).
    ch0 = out[0][0]
    msel = (atoms.residue >= missing[0]) & (atoms.residue < missing[1])
    missing_xyz = atoms.xyz[msel]
    for ri in reversed(range(missing[0], missing[1])):
        del ch0[ri]
    out.setup_entities()
    return out, dict(displaced_wrong=xyz[dsel], displaced_true=true_disp, phantom=p,
                     missing=missing_xyz)


def main_chain_and_cb(st):
    """The model cut to N, CA, C, O and CB (what the automatic builder builds)."""
    out = st.clone()
    out.remove_ligands_and_waters()
    out.remove_hydrogens()
    for ch in out[0]:
        for r in ch:
            for i in reversed(range(len(r))):
                if r[i].name not in ("N", "CA", "C", "O", "CB"):
                    del r[i]
    return out


def values_at(rho, xyz, voxel, start):
    idx = ((xyz[:, ::-1] - start) / voxel).T
    return ndimage.map_coordinates(rho, idx, order=1)


def site_figures(rho, sites, envelope, truth, voxel, start):
    """Density in rms-inside-envelope units at the sites, and CC with truth near the missing
    segment."""
    inside = envelope > 0.5
    r = (rho - rho[inside].mean()) / rho[inside].std()
    out = {k: float(values_at(r, v, voxel, start).mean()) for k, v in sites.items()
           if k != "missing"}
    near = model_envelope_points(sites["missing"], rho.shape, voxel, start)
    out["missing_cc"] = float(np.corrcoef(rho[near], truth[near])[0, 1])
    return out


def model_envelope_points(xyz, shape, voxel, start, radius=2.5):
    from resolvecryoem.core.models.ensemble import near_mask
    return near_mask(xyz, shape, voxel, start, radius)


def standard_run(case, work, params):
    info = mapio.map_info(case["shape"], case["voxel"], case["start"])
    p1, p2 = work / "h1.mrc", work / "h2.mrc"
    mapio.write_map(p1, case["h1"], info)
    mapio.write_map(p2, case["h2"], info)
    t, c = time.perf_counter(), time.process_time()
    state = prepare(p1, p2, work / "standard", params, log=lambda *_: None)
    modify_half(state, 1, log=lambda *_: None)
    modify_half(state, 2, log=lambda *_: None)
    # What the model stage needs from the standard run (the state is removed by finish).
    meta = json.loads((state / "meta.json").read_text())
    keep_arrays = {k: np.load(state / f"{k}.npy") for k in
                   ("O1", "O2", "D1", "D2", "p_molecule", "hist_centres", "hist_solvent",
                    "hist_molecule")}
    res = finish(state, log=lambda *_: None)
    seconds = (time.perf_counter() - t, time.process_time() - c)
    dm, _ = mapio.read_map(work / "standard" / "denmod_map.mrc")
    return dm, meta, keep_arrays, seconds, (p1, p2), _reported(res)


def _reported(res) -> dict:
    """What the program reports of its delivered map (results.json)."""
    r = res["resolution"]
    return {"after_corrected": r["after_corrected"], "after_envelope": r["after_envelope"],
            "verdict": res["verdict"]["verdict"]}


def model_run(case, work, params, model_path, meta, arrays, paths, n_copies, seed=0,
              tag="model", route="composite", log=print):
    """Model-based stage by hand (see the module docstring); returns (map, figures).

    route "composite" (the method): per half, the composite half map (stage.model_half_map)
    takes the place of the map-phasing coefficients D_i in the pipeline's finish (four-map
    recombination, final scaling).  route "likelihood": the target enters map_phasing as the
    symmetry target does, params.cycles cycles of map phasing + per-half recombination from
    the standard density-modified half map, then finish (measured for comparison).
    """
    t0, c0 = time.perf_counter(), time.process_time()
    if route == "pipeline":
        return _pipeline_run(work, params, model_path, paths, tag, t0, c0)
    voxel = np.asarray(meta["voxel_size"])
    shape = tuple(meta["boxed_shape"])
    lower = np.array(meta["box"]["lower"] if meta["box"] else [0, 0, 0])
    start = np.asarray(meta["input_start_A"]) + lower * voxel
    shells = Shells.for_box(shape, voxel)
    O = {1: arrays["O1"], 2: arrays["O2"]}
    D = {1: arrays["D1"], 2: arrays["D2"]}
    resolution = meta["resolution"]["used"]
    dm_res = meta["resolution"]["dm_resolution"]
    keep = lowpass(shells, dm_res)
    # The standard run's density-modified half maps (boxed, on the sharpened scale).
    W = {i: half_weights(O[i], O[3 - i], D[i], shells) for i in (1, 2)}
    C_std = {i: W[i].apply(O[i], D[i], shells) for i in (1, 2)}
    avg = irfft(0.5 * (C_std[1] + C_std[2]), shape)
    model = stage.load_model(model_path, avg, voxel, start, resolution)
    for w in model.warnings:
        log("warning: " + w)
    figs = {"refinement": {}, "target": {}}
    copies_all = []
    state = prepare(paths[0], paths[1], work / tag, params, log=lambda *_: None)
    t_refine = 0.0
    for i in (1, 2):
        tr = time.perf_counter()
        half_map = irfft(C_std[i], shape)
        copies = stage.refine_copies(model, half_map, voxel, start, resolution, i, n_copies,
                                     seed, log=log)
        t_refine += time.perf_counter() - tr
        copies_all += copies
        figs["refinement"][i] = [c.figures for c in copies]
        if route == "composite":
            Dm, target, _ = stage.model_half_map(model, copies, C_std[i], shape, O[1], O[2], i,
                                                 W[i].cc_ref, voxel, start, resolution, keep)
        else:
            rho_i = irfft(C_std[i] * keep, shape)
            target, _ = stage.composite_target(model, copies, rho_i, O[1], O[2], i, voxel,
                                               start, resolution, keep)
            Dm = _likelihood_cycles(C_std[i], O[i], O[3 - i], target, arrays, params, shells,
                                    keep, shape)
        figs["target"][i] = target.figures
        # Map-model FSC of this half's models against each ORIGINAL half map (the other
        # half's is the honest one).
        for j in (1, 2):
            figs.setdefault("model_fsc05", {})[f"models_{i}_vs_half_{j}"] = \
                stage.model_map_fsc(model, copies, O[j], shape, voxel, start,
                                    density=target.model_mean)[1]
        np.save(state / f"D{i}.npy", Dm)
        (state / f"half{i}.json").write_text(json.dumps(
            {"r_values": [], "timings": {}, "log": []}))
    stage.composite_model(model, copies_all, work / tag / "composite_model.cif")
    finish(state, log=lambda *_: None)
    seconds = time.perf_counter() - t0
    dm, _ = mapio.read_map(work / tag / "denmod_map.mrc")
    figs["seconds"] = seconds
    figs["cpu_seconds"] = time.process_time() - c0
    figs["seconds_refinement"] = t_refine
    return dm, figs


def _pipeline_run(work, params, model_path, paths, tag, t0, c0=None):
    """The program as a user runs it with --model (its standard run included in the time;
    models.N_COPIES copies per half map whatever --copies says).  CPU time: this process's
    (the units run in it with nproc 1)."""
    res = run(paths[0], paths[1], work / tag, params, model=model_path, log=lambda *_: None)
    seconds = time.perf_counter() - t0
    dm, _ = mapio.read_map(work / tag / "denmod_map.mrc")
    m = res["model"]
    reported = _reported(res)
    ref = {i: m["refinement"][f"half_map_{i}"] for i in (1, 2)}
    fsc05 = {k: v for k, v in m["map_model_fsc"].items() if isinstance(v, float)}
    return dm, {"seconds": seconds, "refinement": ref, "model_fsc05": fsc05,
                "cpu_seconds": None if c0 is None else time.process_time() - c0,
                "seconds_refinement": sum(f["seconds"] for i in (1, 2) for f in ref[i]),
                "target": {i: m["target"][f"half_map_{i}"] for i in (1, 2)},
                "reported": reported}


def program_timing(paths, mass, model_path, work, nproc, repeats=2) -> dict:
    """Wall time, CPU time (user + system, all processes) and peak resident memory (whole
    process tree) of the program as a user runs it (python -m resolvecryoem.cli, a fresh
    process: start-up and imports included), standard run and run with ``--model``, on the
    same maps with the same --nproc, alternated ``repeats`` times (the machine is shared:
    each pair is measured under about the same load); the best of the repeats is kept."""
    base = [sys.executable, "-m", "resolvecryoem.cli", str(paths[0]), str(paths[1]),
            "--molecular-mass", str(mass), "--nproc", str(nproc), "--quiet"]
    runs = {"standard": [], "model": []}
    for r in range(repeats):
        for label, extra in (("standard", []), ("model", ["--model", str(model_path)])):
            out = work / f"timing_{label}_{r}"
            wall, peak, cpu = measure_command(base + extra + ["--output-dir", str(out)],
                                              cpu=True)
            shutil.rmtree(out, ignore_errors=True)
            runs[label].append(dict(seconds=wall, cpu_seconds=cpu, peak_GB=peak / 1e9))
    best = {k: {m: min(r[m] for r in v) for m in v[0]} for k, v in runs.items()}
    ratio = {m: best["model"][m] / best["standard"][m] for m in best["model"]}
    return dict(nproc=nproc, repeats=runs, best=best, ratio=ratio)


def timing_lines(t) -> list:
    b, r = t["best"], t["ratio"]
    lines = [f"Program runs (command line, fresh process each, --nproc {t['nproc']}, best of "
             f"{len(t['repeats']['model'])} alternated runs):", "",
             "| run | wall (s) | CPU (s) | peak memory (GB) |", "|---|---|---|---|"]
    for k in ("standard", "model"):
        lines.append(f"| {'with --model (perfect model)' if k == 'model' else 'standard'} | "
                     f"{b[k]['seconds']:.1f} | {b[k]['cpu_seconds']:.1f} | "
                     f"{b[k]['peak_GB']:.2f} |")
    lines.append(f"| ratio model / standard | {r['seconds']:.1f}x | {r['cpu_seconds']:.1f}x | "
                 f"{r['peak_GB']:.1f}x |")
    return lines


def _automatic_run(work, params, paths, deposited, tag="auto", symmetry_file=None):
    """The program's run with automatically built models, stage by stage as ``pipeline.run``
    does them, with one look at the built (refined) models before finish removes them: per
    model, residues traced, fragments and map correlation from the program's own figures,
    and the fraction of deposited C-alpha within 1.5 / 3 A of a built one and the fraction of
    built C-alpha in wrong-direction fragments (trace_metrics.compare_ca)."""
    from resolvecryoem.core import pipeline
    from resolvecryoem.core.models.trace_metrics import compare_ca
    t0 = time.perf_counter()
    quiet = lambda *_: None  # noqa: E731
    state = pipeline.prepare(paths[0], paths[1], work / tag, params, log=quiet,
                             symmetry_file=symmetry_file)
    pipeline.modify_half(state, 1, log=quiet)
    pipeline.modify_half(state, 2, log=quiet)
    units = pipeline.model_units(state)
    built = []
    if units:
        pipeline.run_units(pipeline.refine_models, state,
                           pipeline._refinement_jobs(units, params.threads), params.threads,
                           quiet)
        pipeline.run_units(pipeline.model_half, state, [(1,), (2,)], params.threads, quiet)
        for h, k in units:
            cif = state / f"model_half{h}_copy{k}.cif"
            if cif.exists():
                fig = json.loads(cif.with_suffix(".json").read_text())
                cmp = compare_ca(mst.read_structure(cif), deposited)
                built.append(dict(half=h, copy=k, residues=fig["built"]["residues"],
                                  map_correlation=fig["map_correlation"], **cmp))
    res = pipeline.finish(state, log=quiet)
    seconds = time.perf_counter() - t0
    dm, _ = mapio.read_map(work / tag / "denmod_map.mrc")
    if "model" not in res:
        return dm, {"seconds": seconds, "built": [], "fell_back": True}
    m = res["model"]
    ref = {i: m["refinement"][f"half_map_{i}"] for i in (1, 2)}
    fsc05 = {k: v for k, v in m["map_model_fsc"].items() if isinstance(v, float)}
    return dm, {"seconds": seconds, "refinement": ref, "model_fsc05": fsc05, "built": built,
                "seconds_refinement": sum(f["seconds"] for i in (1, 2) for f in ref[i]),
                "target": {i: m["target"][f"half_map_{i}"] for i in (1, 2)}}


def two_fold_ncs_spec(st, path) -> float:
    """Write a Phenix .ncs_spec with the identity and the operator that carries the first
    half of the model's chains onto the second (gemmi superposition of their C-alpha: for
    5ME2 the 2-fold of haemoglobin, chains A, B onto C, D); returns the C-alpha rmsd (A)."""
    import gemmi
    chains = list(st[0])
    half = len(chains) // 2

    def ca(chs):
        return [r.find_atom("CA", "*").pos for ch in chs for r in ch if r.find_atom("CA", "*")]

    sup = gemmi.superpose_positions(ca(chains[half:]), ca(chains[:half]))
    R, t = np.array(sup.transform.mat.tolist()), np.array(sup.transform.vec.tolist())
    Path(path).write_text(ncs_spec_text([(np.eye(3), np.zeros(3)), (R, t)]))
    return float(sup.rmsd)


def built_lines(built) -> list:
    """Markdown lines: one row per automatically built model against the deposited one."""
    head = ("half", "model", "residues", "fragments", "map CC", "dep. CA within 1.5 A",
            "within 3 A", "built CA in wrong-direction fragments")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for b in built:
        lines.append(f"| {b['half']} | {b['copy'] + 1} | {b['residues']} | {b['fragments']} | "
                     f"{b['map_correlation']:.3f} | {b['within_1.5A']:.2f} | "
                     f"{b['within_3A']:.2f} | {b['wrong_direction_ca']:.2f} |")
    if built:
        mean = {k: np.mean([b[k] for b in built]) for k in
                ("residues", "fragments", "map_correlation", "within_1.5A", "within_3A",
                 "wrong_direction_ca")}
        lines.append(f"| mean | | {mean['residues']:.0f} | {mean['fragments']:.1f} | "
                     f"{mean['map_correlation']:.3f} | {mean['within_1.5A']:.2f} | "
                     f"{mean['within_3A']:.2f} | {mean['wrong_direction_ca']:.2f} |")
    return lines


def _likelihood_cycles(C, O_i, O_j, target, arrays, params, shells, keep, shape):
    """Density-modification cycles with the model target in the likelihood (as modify_half
    does them with the symmetry target); returns the last map-phasing coefficients."""
    solvent = DensityHistogram(arrays["hist_centres"], arrays["hist_solvent"])
    molecule = DensityHistogram(solvent.centres, arrays["hist_molecule"])
    if not params.use_molecule_histogram:
        molecule = flat_histogram(molecule)
    rms_i = shell_rms(O_i, shells)
    for _ in range(params.cycles):
        rho = irfft(C * keep, shape)
        Dm, _ = map_phasing(C, rho, arrays["p_molecule"], solvent, molecule, keep,
                            target=(target.tau, target.var))
        C = half_weights(O_i, O_j, Dm, shells).apply(O_i, Dm, shells)
        C *= shells.expand(rms_i / np.maximum(shell_rms(C, shells), 1e-30))
    return Dm


def _at_shell_amplitudes(rho, like, voxel):
    """``rho`` scaled per shell to the shell rms amplitudes of ``like``."""
    from resolvecryoem.core.fourier import rfft
    from resolvecryoem.core.sharpening import match_shell_rms
    shells = Shells.for_box(rho.shape, voxel)
    return irfft(match_shell_rms(rfft(rho), shell_rms(rfft(like), shells), shells), rho.shape)


def _sharpening_table(rows) -> list:
    """Figures per-shell scaling changes (FSC does not), and what the program reported."""
    marks = [k for k in rows[0]["sharpening"] if k.startswith("ratio_") and k != "ratio_curve"]
    head = (["method", "CC box", "CC env", "CC box, ideal scaling"]
            + [f"amp. ratio {k[6:]} A" for k in marks]
            + ["log2 ratio rms", "reported box / env (A)", "verdict"])
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        sc, rep = r["sharpening"], r.get("reported")
        rep_text = ("" if rep is None else
                    f"{rep['after_corrected']:.3f} / {rep['after_envelope']:.3f}")
        out.append(f"| {r['method']} | {sc['cc_box']:.4f} | {sc['cc_envelope']:.4f} | "
                   f"{sc['cc_box_ideal']:.4f} | "
                   + " | ".join(f"{sc[k]:.2f}" for k in marks)
                   + f" | {sc['log2_ratio_rms']:.2f} | {rep_text} | "
                   f"{'' if rep is None else rep['verdict']} |")
    out += ["", "CC: real-space correlation of the delivered map with the truth (whole box; "
            "inside the envelope); ideal scaling: the same map scaled per shell by "
            "FSC(map, truth) |truth| / |map| (the best any per-shell sharpening can reach). "
            "amp. ratio: the map's shell amplitude over the Wiener-ideal FSC(map, truth) x "
            "|truth|, relative to the same ratio at 8 A (1 = the ideal fall-off); log2 ratio "
            "rms over the shells from 8 A to FSC(map, truth) = 0.143. Reported: the "
            "program's resolution after (whole box / inside its envelope) and verdict from "
            "results.json.", ""]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--resolution", type=float, default=3.5)
    ap.add_argument("--copies", type=int, default=8)
    ap.add_argument("--sampling", type=float, default=3.0,
                    help="voxel = resolution / sampling (3: Nyquist is 0.67 x resolution, "
                         "so the automatic dm_resolution is Nyquist; 4 leaves room finer)")
    ap.add_argument("--dm-resolution", type=float, default=None,
                    help="dm_resolution (A) of every run (default: automatic)")
    ap.add_argument("--model", default="1ake")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    ap.add_argument("--save", action="store_true",
                    help="also write benchmarks/results/model_bench_<model>_<route>.md")
    ap.add_argument("--automatic", action="store_true",
                    help="also a row for the program's own run with automatically built "
                         "models (--density-modify-with-model, no model file)")
    ap.add_argument("--symmetry", action="store_true",
                    help="with --automatic: also the standard and the automatic run with the "
                         "model's 2-fold as a symmetry file (the builder builds one "
                         "asymmetric unit and expands it)")
    ap.add_argument("--timing-nproc", type=int, nargs="*", default=[1, 2],
                    help="also time the program (command line) with and without --model at "
                         "these --nproc values (none: skip)")
    ap.add_argument("--sharpening", action="store_true",
                    help="with --route pipeline: each model run also with model_sharpening "
                         "on, and a table of the figures sharpening changes (real-space CC "
                         "with the truth, shell amplitudes against the Wiener-ideal ones)")
    ap.add_argument("--route", choices=("composite", "likelihood", "pipeline"),
                    default="composite",
                    help="how the model target enters (see model_run); pipeline: the "
                         "program's own run with --model")
    args = ap.parse_args(argv)
    work = Path(args.out or (HERE / "cache" / "model_bench"))
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    case = make_case(args.model, args.resolution, seed=args.seed, sampling=args.sampling)
    st = mst.read_structure(case["model"])
    print(f"case {case['name']}: box {case['shape']}, voxel {case['voxel']} A, "
          f"{mst.atoms_of(st).n} atoms")
    params = DensityModificationParams(molecular_mass=case["mass"], nproc=1,
                                       dm_resolution=args.dm_resolution)
    std, meta, arrays, t_std, paths, std_reported = standard_run(case, work, params)
    perfect = work / "perfect.cif"
    mst.write_structure(st, perfect)
    flawed, sites = flawed_model(st, seed=args.seed)
    flawed_path = work / "flawed.cif"
    mst.write_structure(flawed, flawed_path)
    maps = {"average": 0.5 * (case["h1"] + case["h2"]), "standard DM": std}
    seconds = {"standard DM": t_std[0]}
    cpu = {"standard DM": t_std[1]}
    reported = {"standard DM": std_reported}
    extra = {}
    runs = [("model-based, perfect model", perfect, "perfect", params),
            ("model-based, flawed model", flawed_path, "flawed", params)]
    if args.sharpening:
        if args.route != "pipeline":
            ap.error("--sharpening needs --route pipeline")
        sharp = dataclasses.replace(params, model_sharpening=True)
        runs += [("perfect model + model sharpening", perfect, "perfect_sharp", sharp),
                 ("flawed model + model sharpening", flawed_path, "flawed_sharp", sharp)]
    for label, path, tag, p in runs:
        maps[label], extra[label] = model_run(case, work, p, path, meta, arrays, paths,
                                              args.copies, args.seed, tag, args.route,
                                              log=lambda *_: None)
        seconds[label] = extra[label]["seconds"]
        cpu[label] = extra[label].get("cpu_seconds")
        if "reported" in extra[label]:
            reported[label] = extra[label].pop("reported")
    if args.automatic:
        # The ceiling of a poly-alanine builder: the true main chain and C-beta supplied.
        label = "model-based, true main chain + C-beta"
        pa_path = work / "main_chain_cb.cif"
        mst.write_structure(main_chain_and_cb(st), pa_path)
        maps[label], extra[label] = model_run(case, work, params, pa_path, meta, arrays, paths,
                                              args.copies, args.seed, "main_chain_cb",
                                              args.route, log=lambda *_: None)
        seconds[label] = extra[label]["seconds"]
        cpu[label] = extra[label].get("cpu_seconds")
        label = "automatic models (program's run)"
        auto = dataclasses.replace(params, density_modify_with_model=True)
        c0 = time.process_time()
        maps[label], extra[label] = _automatic_run(work, auto, paths, st)
        cpu[label] = time.process_time() - c0
        seconds[label] = extra[label]["seconds"]
        if args.symmetry:
            ncs = work / "two_fold.ncs_spec"
            rmsd = two_fold_ncs_spec(st, ncs)
            print(f"2-fold operator from the model: C-alpha rmsd {rmsd:.2f} A")
            label = "standard DM, C2 symmetry file"
            t, c0 = time.perf_counter(), time.process_time()
            run(paths[0], paths[1], work / "std_sym", params, symmetry_file=ncs,
                log=lambda *_: None)
            seconds[label] = time.perf_counter() - t
            cpu[label] = time.process_time() - c0
            maps[label] = mapio.read_map(work / "std_sym" / "denmod_map.mrc")[0]
            label = "automatic models, C2 symmetry file"
            c0 = time.process_time()
            maps[label], extra[label] = _automatic_run(work, auto, paths, st, tag="auto_sym",
                                                       symmetry_file=ncs)
            cpu[label] = time.process_time() - c0
            seconds[label] = extra[label]["seconds"]
    if args.sharpening:
        # Controls: the standard map at a model-sharpened map's shell amplitudes, so that
        # the site figures separate what the sharpening does from what the model does.
        for label in [k for k in maps if k.endswith("model sharpening")]:
            maps[f"standard DM at the amplitudes of: {label}"] = _at_shell_amplitudes(
                std, maps[label], case["voxel"])
    rows = []
    for label, m in maps.items():
        sc = truth_scores(m, case["truth"], case["voxel"], case["envelope"])
        sf = site_figures(m, sites, case["envelope"], case["truth"], case["voxel"],
                          case["start"])
        rows.append(dict(method=label, fsc05_envelope=sc["envelope_0.5"],
                         fsc05_whole=sc["whole_0.5"], cc_molecule=sc["cc_molecule"], **sf,
                         seconds=seconds.get(label), cpu_seconds=cpu.get(label)))
        if args.sharpening:
            rows[-1]["sharpening"] = sharpening_scores(m, case["truth"], case["voxel"],
                                                       case["envelope"])
            rows[-1]["reported"] = reported.get(label)
    lines = []
    head = ("method", "FSC0.5 env (A)", "FSC0.5 box (A)", "CC mol", "phantom", "displ. wrong",
            "displ. true", "missing CC", "time (s)", "CPU (s)")
    from resolvecryoem.core.models import N_COPIES
    copies = N_COPIES if args.route == "pipeline" else args.copies
    lines.append(f"Case {case['name']}: box {case['shape']}, voxel {case['voxel']} A, "
                 f"{mst.atoms_of(st).n} atoms, {copies} copies per half map, route "
                 f"{args.route}.  Command: python benchmarks/model_bench.py "
                 f"--model {args.model} --resolution {args.resolution}"
                 + (f" --copies {args.copies}" if args.route != "pipeline" else "")
                 + (f" --sampling {args.sampling:g}" if args.sampling != 3.0 else "")
                 + (f" --dm-resolution {args.dm_resolution:g}" if args.dm_resolution else "")
                 + f" --route {args.route}" + (" --automatic" if args.automatic else "")
                 + (" --sharpening" if args.sharpening else "")
                 + (" --symmetry" if args.symmetry else "")
                 + (" --timing-nproc " + " ".join(map(str, args.timing_nproc))
                    if args.timing_nproc != [1, 2] else "")
                 + f"; dm_resolution {meta['resolution']['dm_resolution']:.2f} A\n")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for r in rows:
        t = "" if r["seconds"] is None else f"{r['seconds']:.1f}"
        c = "" if r["cpu_seconds"] is None else f"{r['cpu_seconds']:.1f}"
        lines.append(f"| {r['method']} | {r['fsc05_envelope']:.2f} | {r['fsc05_whole']:.2f} | "
                     f"{r['cc_molecule']:.3f} | {r['phantom']:.2f} | "
                     f"{r['displaced_wrong']:.2f} | {r['displaced_true']:.2f} | "
                     f"{r['missing_cc']:.3f} | {t} | {c} |")
    lines.append("")
    timing = [program_timing(paths, case["mass"], perfect, work, n) for n in args.timing_nproc]
    for t in timing:
        lines += timing_lines(t) + [""]
    if args.sharpening:
        lines += _sharpening_table(rows)
    for label, e in extra.items():
        if "refinement" not in e:
            lines.append(f"- {label}: no models (the run fell back to the standard result)")
            continue
        ref = [f for i in (1, 2) for f in e["refinement"][i]]
        fsc05 = ", ".join(f"{k.replace('_', ' ')} {v:.2f} A"
                          for k, v in e["model_fsc05"].items())
        lines.append(
            f"- {label}: refinement {e['seconds_refinement']:.0f} s for {len(ref)} copies "
            f"({np.mean([f['seconds'] for f in ref]):.1f} s each); mean map CC "
            f"{np.mean([f['map_correlation'] for f in ref]):.3f}, rmsd from start "
            f"{np.mean([f['rmsd_from_start_A'] for f in ref]):.2f} A, bond rmsd "
            f"{np.mean([f['bond_rmsd_A'] for f in ref]):.3f} A; map-model FSC 0.5: {fsc05}")
    lines.append("")
    for label, e in extra.items():
        if e.get("built"):
            ref_label = "standard DM, C2 symmetry file" if "C2" in label else "standard DM"
            t_std, c_std = seconds[ref_label], cpu[ref_label]
            lines += [f"{label}: wall time {e['seconds']:.0f} s = {e['seconds'] / t_std:.0f}x "
                      f"the standard run's {t_std:.1f} s; CPU time {cpu[label]:.0f} s = "
                      f"{cpu[label] / c_std:.0f}x the standard run's {c_std:.1f} s (one "
                      f"process, nproc 1: the CPU ratio does not depend on the machine's "
                      f"load).  Each built (and refined) model against the deposited one:",
                      ""] + built_lines(e["built"]) + [""]
    lines.append("phantom, displ. wrong, displ. true: mean density at those atoms in units of "
                 "the map's rms inside the envelope (0 = average level); missing CC: "
                 "correlation with the truth within 2.5 A of the missing residues.  Times on "
                 "a shared 2-core machine (OMP_NUM_THREADS=1).")
    import resource
    lines.append(f"Peak resident memory of this whole benchmark process: "
                 f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB.")
    text = "\n".join(lines) + "\n"
    print(text)
    (work / "results.md").write_text(text)
    if args.save:
        RESULTS.mkdir(exist_ok=True)
        suffix = ("_automatic" if args.automatic else "") + \
            ("_c2" if args.symmetry else "") + \
            ("" if args.resolution == 3.5 else f"_{args.resolution:g}A") + \
            ("_sharpening" if args.sharpening else "") + \
            (f"_sampling{args.sampling:g}" if args.sampling != 3.0 else "") + \
            (f"_dm{args.dm_resolution:g}" if args.dm_resolution else "")
        (RESULTS / f"model_bench_{args.model}_{args.route}{suffix}.md").write_text(text)
    (work / "results.json").write_text(json.dumps(
        dict(rows=rows, extra=extra, timing=timing), indent=1, default=float))


if __name__ == "__main__":
    main()
