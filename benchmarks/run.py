"""Benchmark: quality against a known truth, speed and memory, side by side with baselines.

    python benchmarks/run.py               # full (under 15 minutes on 2 cores)
    python benchmarks/run.py --quick       # a few minutes
    python benchmarks/run.py --speed-only  # only the speed/memory rows (256^3 and 400^3)

Cases are half maps made from REAL atomic models (truth known) at 3, 3.5 and 4.5 A: noise
added to the blurred model density ("stationary"), half maps reconstructed from simulated
particle images ("reconstruction-like": CTF, alignment errors, Fourier insertion with a Wiener
term; one with a flexible periphery), and coloured noise twice as strong in the solvent; plus a
real-density case (EMD-5168 with independent noise per half, scored by map-model FSC around
its model), plus 256^3 and 400^3 speed/memory cases. Every method runs on the same maps in
the same run; times are also given in units of one rfftn+irfftn pair of the same box timed in
the same run, because machines are noisy, and peak memory in bytes per input voxel.  Writes
benchmarks/results/results.md, results.json and PNG plots of the FSC curves (--speed-only:
speed.md and speed.json).  Shared data: ../shared/data beside the repository, or
$RESOLVECRYOEM_SHARED_DATA.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks import methods  # noqa: E402
from benchmarks.metrics import shell_deficit, truth_scores  # noqa: E402
from resolvecryoem.core import boxing, mapio  # noqa: E402
from resolvecryoem.core.fourier import irfft, rfft  # noqa: E402
from resolvecryoem.core.model_map import (atom_positions, model_density,  # noqa: E402
                                          model_envelope, read_model)
from resolvecryoem.core.params import DensityModificationParams  # noqa: E402
from resolvecryoem.core.pipeline import finish, modify_half, prepare  # noqa: E402
from resolvecryoem.core.sequence import (molecular_mass, parse_sequence_text,  # noqa: E402
                                         volume_from_mass)
from resolvecryoem.core.simulate import (bundled_model, gemmi_one_letter,  # noqa: E402
                                         simulate_half_maps)
from resolvecryoem.core.simulate_reconstruction import reconstruct_half_maps  # noqa: E402

# ../shared/data next to the checkout (or $RESOLVECRYOEM_SHARED_DATA, e.g. for a worktree).
SHARED = Path(os.environ.get("RESOLVECRYOEM_SHARED_DATA",
                             HERE.parent.parent / "shared" / "data"))
CACHE = HERE / "cache"
RESULTS = HERE / "results"

# Where each model comes from on a machine without ../shared/data (PyPI packages).
SOURCES = {
    "5me2": (SHARED / "emd_3488" / "5me2.pdb",
             ("ccpem-utils==0.0.1.dev35", "ccpem_utils_tests/test_data/5me2.pdb")),
    "1ake": (SHARED / "models" / "adk_closed.pdb",
             ("MDAnalysisTests", "MDAnalysisTests/data/adk_closed.pdb")),
    "3j6b_9": (SHARED / "emd_2566_zone" / "3J6B_9.pdb", None),
    "adk_1ake": (bundled_model(), None),
}
# Reconstruction-like cases: simulated particles per case (both halves).
RECON_PARTICLES = 3000


def model_path(name) -> Path | None:
    """The model file: shared data when present, else downloaded once into the cache."""
    local, remote = SOURCES[name]
    if local.exists():
        return local
    cached = CACHE / f"{name}.pdb"
    if cached.exists():
        return cached
    if remote is None:
        return None
    package, member = remote
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=CACHE))
    try:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d",
                        str(tmp), package], check=True, timeout=600)
        for f in tmp.iterdir():
            if f.suffix in (".whl", ".zip"):
                with zipfile.ZipFile(f) as z:
                    names = [n for n in z.namelist() if n.endswith(member)]
                    if names:
                        cached.write_bytes(z.read(names[0]))
            elif f.name.endswith(".tar.gz"):
                import tarfile
                with tarfile.open(f) as t:
                    names = [n for n in t.getnames() if n.endswith(member)]
                    if names:
                        cached.write_bytes(t.extractfile(names[0]).read())
    except (subprocess.SubprocessError, OSError) as e:
        print(f"  could not obtain {name}: {e}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return cached if cached.exists() else None


def fft_pair_seconds(shape, threads, repeats=3, cpu=False):
    """Wall seconds of one rfftn+irfftn pair of a map of ``shape``; with ``cpu``, (wall, CPU
    seconds of all threads) - on a shared machine CPU time is the steadier unit."""
    a = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    irfft(rfft(a, threads), shape, threads)  # warm-up (plans, pages)
    t, c = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        irfft(rfft(a, threads), shape, threads)
    wall, cpu_s = (time.perf_counter() - t) / repeats, (time.process_time() - c) / repeats
    return (wall, cpu_s) if cpu else wall


def make_case(name, resolution, box=None, seed=0, sampling=3.0, kind="stationary", **sim):
    """Truth, envelope and half maps from a model (voxel = resolution / sampling).

    ``kind``: "stationary" (noise added to the blurred model density, :func:`simulate_half_maps`),
    "reconstruction" (particles reconstructed by Fourier insertion,
    :func:`reconstruct_half_maps`, keyword arguments ``sim``), or "solvent2x" (stationary
    noise of the same spectrum, twice as strong in the solvent as in the molecule).
    """
    path = model_path(name)
    if path is None:
        return None
    xyz = atom_positions(path)
    extent = float(np.max(xyz.max(0) - xyz.min(0)))
    voxel = round(resolution / sampling, 3)
    n = box or int(2 * np.ceil(extent * 1.6 / voxel / 2))
    centre = 0.5 * (xyz.max(0) + xyz.min(0))
    start = centre[::-1] - 0.5 * n * voxel
    shape = (n, n, n)
    truth = model_density(path, shape, voxel, start)
    envelope = model_envelope(path, shape, voxel, start)
    label = f"{name} {resolution} A"
    if kind == "reconstruction":
        rc = reconstruct_half_maps(path, shape, voxel, start, resolution, seed=seed,
                                   n_particles=RECON_PARTICLES, **sim)
        h1, h2 = rc.half_map_1, rc.half_map_2
        label = f"{name} {resolution} A, reconstruction-like" + (
            ", flexible periphery" if sim.get("flexible_deg") else "")
    else:
        h1, h2, signal = simulate_half_maps(truth, voxel, resolution, seed=seed)
        if kind == "solvent2x":
            far = model_envelope(path, shape, voxel, start, radius_A=3.0, soft_A=8.0)
            amp = (2.0 - far).astype(np.float32)
            h1, h2 = signal + amp * (h1 - signal), signal + amp * (h2 - signal)
            label = f"{name} {resolution} A, noise 2x in solvent"
    # The mass a user would give: from the model's sequence.
    st = read_model(path)
    mass = molecular_mass(parse_sequence_text(
        "\n".join(f">{ch.name}\n{gemmi_one_letter(ch)}" for ch in st[0])))
    truth_mask = model_envelope(path, shape, voxel, start, radius_A=3.0, soft_A=4.0)
    return dict(name=label, model=str(path), truth=truth, envelope=envelope, h1=h1, h2=h2,
                voxel=voxel, start=start, shape=shape, resolution=resolution, mass=mass,
                truth_mask=truth_mask, kind=kind)


def run_ours(case, workdir, params: DensityModificationParams, log=None):
    """Our pipeline through its stages (to keep the molecule mask it used)."""
    info = mapio.map_info(case["shape"], case["voxel"], case["start"])
    p1, p2 = workdir / "h1.mrc", workdir / "h2.mrc"
    if not p1.exists():
        mapio.write_map(p1, case["h1"], info)
        mapio.write_map(p2, case["h2"], info)
    out = workdir / ("ours" if params.use_molecule_histogram else "ours_nohist")
    t = time.perf_counter()
    state = prepare(p1, p2, out, params, log=log)
    meta = json.loads((state / "meta.json").read_text())
    pm = np.load(state / "p_molecule.npy")
    if meta["box"]:
        b = boxing.Box.from_dict(meta["box"], meta["input_shape"])
        pm = boxing.paste(pm, np.zeros(case["shape"], np.float32), b)
    modify_half(state, 1, log=log)
    modify_half(state, 2, log=log)
    res = finish(state, log=log)
    seconds = time.perf_counter() - t
    dm, _ = mapio.read_map(out / "denmod_map.mrc")
    return dm, pm, res, seconds


def cctbx_python(arg) -> str | None:
    """An interpreter with cctbx-base: --cctbx-python, $RESOLVECRYOEM_CCTBX_PYTHON, or this one
    if it imports cctbx (it cannot share Scipion's numpy pin, so usually a separate venv)."""
    for cand in (arg, os.environ.get("RESOLVECRYOEM_CCTBX_PYTHON"), sys.executable):
        if cand and subprocess.run([cand, "-c", "import iotbx.map_model_manager"],
                                   capture_output=True).returncode == 0:
            return cand
    return None


def run_cctbx(python, workdir, case, local: bool):
    """cctbx half-map sharpening (global or local) in its own process."""
    out = workdir / f"cctbx_{'local' if local else 'global'}.mrc"
    subprocess.run([python, str(HERE / "cctbx_peer.py"), str(workdir / "h1.mrc"),
                    str(workdir / "h2.mrc"), str(out), str(case["resolution"]),
                    "1" if local else "0"], check=True, capture_output=True, cwd=workdir,
                   timeout=1800)
    return mapio.read_map(out)[0]


def quality_case(case, threads, workdir, cctbx=None, cctbx_local_max=80):
    f_solvent = 1.0 - volume_from_mass(case["mass"]) / float(np.prod(case["shape"])
                                                             * case["voxel"] ** 3)
    params = DensityModificationParams(molecular_mass=case["mass"], nproc=threads)
    maps, seconds = {}, {}
    dm, pm, res, seconds["ours"] = run_ours(case, workdir, params)
    maps["ours"] = dm
    nohist = DensityModificationParams(molecular_mass=case["mass"], nproc=threads,
                                       use_molecule_histogram=False)
    maps["ours, no histogram"], _, _, seconds["ours, no histogram"] = run_ours(
        case, workdir, nohist)
    for label, fn in (("average", methods.average), ("relion-like", methods.relion_like),
                      ("floor (flip + recombine)", methods.floor),
                      ("masked average", methods.masked_average),
                      ("user-masked average", methods.user_masked_average),
                      ("perfect flattening (truth mask)", methods.perfect_flattening)):
        t = time.perf_counter()
        maps[label] = fn(case["h1"], case["h2"], case["voxel"],
                         solvent_fraction=f_solvent, mask=pm,
                         molecular_volume_A3=volume_from_mass(case["mass"]),
                         truth_mask=case["truth_mask"])
        seconds[label] = time.perf_counter() - t
    if cctbx:
        for local in (False, True):
            if local and case["shape"][0] > cctbx_local_max:
                continue
            label = f"cctbx half-map sharpening, {'local' if local else 'global'}"
            t = time.perf_counter()
            maps[label] = run_cctbx(cctbx, workdir, case, local)
            seconds[label] = time.perf_counter() - t
    # Our method once more as a user runs it, for its peak memory (process tree).
    _, peak = measure_command([sys.executable, "-m", "resolvecryoem.cli",
                               str(workdir / "h1.mrc"), str(workdir / "h2.mrc"),
                               "--molecular-mass", str(case["mass"]), "--nproc", str(threads),
                               "--quiet", "--output-dir", str(workdir / "ours_cli")])
    unit = fft_pair_seconds(case["shape"], threads)
    scores = {k: truth_scores(m, case["truth"], case["voxel"], case["envelope"])
              for k, m in maps.items()}
    return dict(scores=scores, seconds=seconds, unit=unit, results=res, peak_GB=peak / 1e9)


def criteria(scores) -> dict:
    a, fl, o = scores["average"], scores["floor (flip + recombine)"], scores["ours"]
    out = {}
    for where in ("whole", "envelope"):
        gain_floor = a[f"{where}_0.5"] - fl[f"{where}_0.5"]
        gain_ours = a[f"{where}_0.5"] - o[f"{where}_0.5"]
        out[f"{where}: ours gain >= 1.1 x floor gain"] = bool(
            gain_ours > 0 and gain_ours >= 1.1 * max(gain_floor, 0.0))
    out["whole: ours beats masked average"] = bool(
        o["whole_0.5"] < scores["masked average"]["whole_0.5"])
    out["envelope: ours beats no-histogram run"] = bool(
        o["envelope_0.5"] <= scores["ours, no histogram"]["envelope_0.5"])
    deficit = shell_deficit(o["fsc_whole"], a["fsc_whole"], a["count"])[1:]
    out["per shell: never below average by > 2/sqrt(N)"] = bool(np.all(deficit <= 1.0))
    # Issue 13's goals (reconstruction-like maps): beat perfect flattening inside by 0.1 A,
    # the user-masked average over the box by 0.2 A, solvent near a good mask's.
    pf, um = scores["perfect flattening (truth mask)"], scores["user-masked average"]
    out["envelope: ours <= perfect flattening - 0.1 A"] = bool(
        o["envelope_0.5"] <= pf["envelope_0.5"] - 0.1)
    out["whole: ours <= user-masked average - 0.2 A"] = bool(
        o["whole_0.5"] <= um["whole_0.5"] - 0.2)
    out["solvent rms <= 2 x user-masked average's"] = bool(
        o["solvent_rms"] <= 2.0 * um["solvent_rms"])
    return out


# Runs a command and writes its ru_maxrss (kB) and CPU seconds: the benchmark's own process is
# large (the case's maps), and a child forked from it keeps that size as its ru_maxrss even
# after exec; forked from this small interpreter instead, it carries only about 10 MB.
_MAXRSS_HELPER = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL)\n"
    "_, status, ru = os.wait4(p.pid, 0)\n"
    "open(sys.argv[1], 'w').write(f'{ru.ru_maxrss} {ru.ru_utime + ru.ru_stime}')\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n")


def measure_command(cmd, cpu=False, maxrss=False) -> tuple:
    """(wall seconds, peak resident memory of the whole process tree in bytes) of a command,
    sampled every 50 ms with psutil; with ``cpu`` also the CPU seconds (user + system) of the
    command and its children; with ``maxrss`` also the command's own peak resident memory
    as the kernel counted it (ru_maxrss, bytes: no sampling, so no short peak is missed;
    it includes the ~10 MB of the small interpreter that starts the command)."""
    import psutil
    with tempfile.NamedTemporaryFile(suffix=".rusage", delete=False) as f:
        report = Path(f.name)
    # The maps written before (the case, an earlier run's outputs: gigabytes at 400^3) go to
    # disk first, not while the command runs: their writeback slowed a 400^3 run by a quarter.
    os.sync()
    try:
        t = time.perf_counter()
        proc = psutil.Popen([sys.executable, "-c", _MAXRSS_HELPER, str(report)] + list(cmd),
                            stdout=subprocess.DEVNULL)
        peak = 0
        while proc.poll() is None:
            try:
                tree = [proc] + proc.children(recursive=True)
                peak = max(peak, sum(p.memory_info().rss for p in tree))
            except psutil.NoSuchProcess:
                pass
            time.sleep(0.05)
        seconds = time.perf_counter() - t
        if proc.returncode != 0:
            raise RuntimeError(f"benchmark command failed: {' '.join(cmd)}")
        maxrss_kb, cpu_s = (float(v) for v in report.read_text().split())
    finally:
        report.unlink(missing_ok=True)
    out = (seconds, peak)
    if cpu:
        out += (cpu_s,)
    if maxrss:
        out += (maxrss_kb * 1024,)  # kilobytes on Linux
    return out


def write_speed_pair(n, workdir) -> list | None:
    """The speed cases' n^3 pair of half maps (5ME2 at 3.5 A, seed 7) written into
    ``workdir``: [path 1, path 2], or None without the model."""
    case = make_case("5me2", 3.5, box=n, seed=7)
    if case is None:
        return None
    info = mapio.map_info(case["shape"], case["voxel"], case["start"])
    paths = [Path(workdir) / f"s{n}_1.mrc", Path(workdir) / f"s{n}_2.mrc"]
    mapio.write_map(paths[0], case["h1"], info)
    mapio.write_map(paths[1], case["h2"], info)
    return paths


def speed_case(n, threads, workdir):
    """Time and peak memory (whole process tree) of one command-line run on an n^3 pair."""
    pair = write_speed_pair(n, workdir)
    if pair is None:
        return None
    p1, p2 = pair
    unit, unit_cpu = fft_pair_seconds((n, n, n), threads, cpu=True)
    out = {}
    for label, extra in (("boxed (default)", []),
                         ("whole box (--no-box-before-analysis)",
                          ["--no-box-before-analysis"])):
        cmd = [sys.executable, "-m", "resolvecryoem.cli", str(p1), str(p2),
               "--molecular-mass", "64000", "--nproc", str(threads), "--quiet",
               "--output-dir", str(workdir / f"speed{n}_{len(extra)}")] + extra
        load = os.getloadavg()[0]
        seconds, peak, cpu_s, rss = measure_command(cmd, cpu=True, maxrss=True)
        out[label] = dict(seconds=seconds, units=seconds / unit, peak_GB=peak / 1e9,
                          bytes_per_voxel=peak / n ** 3, cpu_seconds=cpu_s,
                          cpu_units=cpu_s / unit_cpu, maxrss_GB=rss / 1e9,
                          maxrss_bytes_per_voxel=rss / n ** 3,
                          load=[load, os.getloadavg()[0]])
    # The baseline again after the runs: the machine may have got busier or quieter.
    unit_after, unit_cpu_after = fft_pair_seconds((n, n, n), threads, cpu=True)
    return dict(n=n, unit=unit, unit_after=unit_after, unit_cpu=unit_cpu,
                unit_cpu_after=unit_cpu_after, runs=out)


def real_density_case(threads, workdir, seed=11):
    """EMD-5168 (unmasked F-actin) + independent noise per half; map-model FSC around 3MFP."""
    mp = SHARED / "emd_5168" / "emd_5168.map"
    model = SHARED / "emd_5168" / "3MFP.pdb"
    if not (mp.exists() and model.exists()):
        return None
    rho, info = mapio.read_map(mp)
    rng = np.random.default_rng(seed)
    from resolvecryoem.core.fourier import Shells
    from resolvecryoem.core.fsc import power
    from resolvecryoem.core.simulate import noise_to_signal
    shells = Shells.for_box(rho.shape, info.voxel_size)
    R = rfft(rho)
    amp = shells.expand(np.sqrt(power(R, shells) * noise_to_signal(shells, 6.0)))
    halves = []
    for _ in range(2):
        n = rfft(rng.standard_normal(rho.shape).astype(np.float32)) / np.sqrt(rho.size)
        halves.append(irfft(R + n * amp, rho.shape))
    p1, p2 = workdir / "actin_1.mrc", workdir / "actin_2.mrc"
    mapio.write_map(p1, halves[0], info)
    mapio.write_map(p2, halves[1], info)
    # The filament crosses the box along z: ~one 42 kDa subunit per 27.5 A of filament.
    subunits = rho.shape[0] * info.voxel_size[0] / 27.5
    f_solvent = 1 - volume_from_mass(42000 * subunits) / info.box_volume_A3
    params = DensityModificationParams(solvent_fraction=round(f_solvent, 3),
                                       box_before_analysis=False, nproc=threads)
    from resolvecryoem.core.pipeline import run
    t = time.perf_counter()
    run(p1, p2, workdir / "actin_out", params, log=None)
    seconds = time.perf_counter() - t
    dm, _ = mapio.read_map(workdir / "actin_out" / "denmod_map.mrc")
    truth = model_density(model, rho.shape, info.voxel_size, info.start_A)
    env = model_envelope(model, rho.shape, info.voxel_size, info.start_A, radius_A=4.0)
    maps = {"average": 0.5 * (halves[0] + halves[1]), "ours": dm,
            "floor (flip + recombine)": methods.floor(halves[0], halves[1],
                                                      info.voxel_size,
                                                      solvent_fraction=f_solvent)}
    scores = {k: truth_scores(m, truth, info.voxel_size, env) for k, m in maps.items()}
    return dict(scores=scores, seconds=seconds, solvent_fraction=f_solvent)


def plot_case(name, scores, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, where in zip(axes, ("whole", "envelope")):
        for label, sc in scores.items():
            ax.plot(sc["s"][1:], sc[f"fsc_{where}"][1:], label=label)
        ax.axhline(0.5, color="grey", linestyle="--", linewidth=0.8)
        ax.set_title(f"{name}: FSC vs truth, {where}")
        ax.set_xlabel("resolution (1/A)")
        ax.set_ylim(-0.05, 1.02)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="two small cases, 192^3 speed case")
    p.add_argument("--speed-only", action="store_true",
                   help="only the speed/memory cases (256^3 and 400^3): speed.md, speed.json")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--cctbx-python", help="interpreter with cctbx-base for the cctbx peer "
                   "(default: $RESOLVECRYOEM_CCTBX_PYTHON, or this one if it has cctbx)")
    args = p.parse_args(argv)
    cctbx = cctbx_python(args.cctbx_python)
    print("cctbx peer: " + (cctbx or "not available (install cctbx-base in a separate venv "
                                     "and pass --cctbx-python)"), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    recon = dict(kind="reconstruction")
    if args.quick:
        plan = [("5me2", 3.5, {}), ("1ake", 4.5, {}), ("adk_1ake", 3.5, recon)]
        speed_sizes = [192]
    else:
        plan = [("5me2", 3.0, {}), ("5me2", 3.5, {}), ("5me2", 4.5, {}), ("1ake", 3.5, {}),
                ("1ake", 4.5, {}), ("3j6b_9", 4.5, {}),
                ("5me2", 3.5, recon), ("adk_1ake", 3.5, recon), ("adk_1ake", 4.5, recon),
                ("adk_1ake", 3.5, dict(recon, flexible_deg=5.0)),
                ("5me2", 3.5, dict(kind="solvent2x"))]
        speed_sizes = [256, 400]
    if args.speed_only:
        plan = []
    t0 = time.perf_counter()
    report = {"quick": args.quick, "speed_only": args.speed_only, "threads": args.threads,
              "cases": [], "speed": None, "cctbx": bool(cctbx)}
    work = Path(tempfile.mkdtemp(prefix="resolvecryoem-bench-"))
    try:
        for name, res, extra in plan:
            case = make_case(name, res, **extra)
            if case is None:
                print(f"skipping {name}: model not available")
                continue
            print(f"case {case['name']}: box {case['shape'][0]}^3 at {case['voxel']} A ...",
                  flush=True)
            tag = f"{name}_{str(res).replace('.', 'p')}" + "".join(
                f"_{v}" for v in extra.values())
            wd = work / tag
            wd.mkdir()
            q = quality_case(case, args.threads, wd, cctbx)
            q["criteria"] = criteria(q["scores"])
            q["name"], q["box"], q["voxel"] = case["name"], case["shape"][0], case["voxel"]
            plot_case(case["name"], q["scores"], RESULTS / f"fsc_{tag}.png")
            report["cases"].append(q)
            print(case_table(q), flush=True)
        if not args.quick and not args.speed_only:
            wd = work / "actin"
            wd.mkdir()
            rd = real_density_case(args.threads, wd)
            if rd:
                report["real_density"] = rd
                print(real_table(rd), flush=True)
        report["speed"] = []
        for n in speed_sizes:
            print(f"speed case {n}^3 ...", flush=True)
            sp = speed_case(n, args.threads, work)
            if sp:
                report["speed"].append(sp)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["total_seconds"] = time.perf_counter() - t0
    md = markdown(report)
    name = "speed" if args.speed_only else "results"
    (RESULTS / f"{name}.md").write_text(md)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=1, default=_jsonable))
    print(md)


def case_table(q) -> str:
    d = q["results"]["resolution"]["half_map_fsc"]
    lines = [f"### {q['name']} (box {q['box']}^3, voxel {q['voxel']} A, half-map FSC=0.143 at "
             f"{d:.2f} A)", "",
             "| method | FSC=0.5 whole (A) | FSC=0.5 envelope (A) | FSC=0.143 whole | "
             "CC molecule | solvent rms | time (s) |", "|---|---|---|---|---|---|---|"]
    for k, sc in q["scores"].items():
        lines.append(f"| {k} | {sc['whole_0.5']:.2f} | {sc['envelope_0.5']:.2f} | "
                     f"{sc['whole_0.143']:.2f} | {sc['cc_molecule']:.3f} | "
                     f"{sc['solvent_rms']:.3f} | {q['seconds'][k]:.1f} |")
    lines.append("")
    lines.append(f"ours: {q['seconds']['ours']:.1f} s = "
                 f"{q['seconds']['ours'] / q['unit']:.0f} FFT-pair units, peak memory "
                 f"{q['peak_GB']:.2f} GB (command line, process tree); criteria: " + ", ".join(
                     f"{k}: {'PASS' if v else 'FAIL'}" for k, v in q["criteria"].items()))
    return "\n".join(lines) + "\n"


def real_table(rd) -> str:
    lines = ["### EMD-5168 (real density + noise), map-model FSC", "",
             "| method | map-model FSC=0.5 whole (A) | around the model (A) |", "|---|---|---|"]
    for k, sc in rd["scores"].items():
        lines.append(f"| {k} | {sc['whole_0.5']:.2f} | {sc['envelope_0.5']:.2f} |")
    return "\n".join(lines) + "\n"


def markdown(report) -> str:
    cmd = "python benchmarks/run.py" + (" --quick" if report["quick"] else "") + (
        " --speed-only" if report.get("speed_only") else "")
    out = [f"# Benchmark (`{cmd}`, {report['threads']} threads, "
           f"{report['total_seconds'] / 60:.1f} min)", "",
           "FSC against the true model density (lower resolution figures are better). "
           "Solvent rms: rms beyond the envelope's soft edge over rms in the molecule, each "
           "shell first scaled to the truth's amplitude x FSC(map, truth) "
           "(benchmarks/metrics.py).", ""]
    out += [case_table(q) for q in report["cases"]]
    if report.get("real_density"):
        out.append(real_table(report["real_density"]))
    speed = report.get("speed") or []
    for sp in [speed] if isinstance(speed, dict) else speed:
        out += [f"### Speed and memory, {sp['n']}^3 half maps (one rfftn+irfftn pair: "
                f"{sp['unit']:.3f} s wall before the runs, {sp.get('unit_after', sp['unit']):.3f}"
                f" s after; CPU {sp.get('unit_cpu', float('nan')):.3f} s / "
                f"{sp.get('unit_cpu_after', float('nan')):.3f} s)", "",
                "| run | wall time (s) | FFT-pair units (wall) | CPU time (s) | FFT-pair units "
                "(CPU) | peak memory, process tree (GB) | bytes per input voxel | peak RSS "
                "(ru_maxrss, GB) | bytes per input voxel (ru_maxrss) | load average "
                "(start, end) |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        nan = float("nan")
        for k, r in sp["runs"].items():
            bpv = r.get("bytes_per_voxel", r["peak_GB"] * 1e9 / sp["n"] ** 3)
            load = r.get("load", [nan, nan])
            out.append(f"| {k} | {r['seconds']:.1f} | {r['units']:.0f} | "
                       f"{r.get('cpu_seconds', nan):.1f} | "
                       f"{r.get('cpu_units', nan):.0f} | {r['peak_GB']:.2f} | "
                       f"{bpv:.0f} | {r.get('maxrss_GB', nan):.2f} | "
                       f"{r.get('maxrss_bytes_per_voxel', nan):.1f} | "
                       f"{load[0]:.1f}, {load[1]:.1f} |")
        out.append("")
    return "\n".join(out) + "\n"


def _jsonable(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        return o.item()
    return str(o)


if __name__ == "__main__":
    main()
