"""Density modification of two half maps, step by step as the reference program documents it.

Three stages, with their state on disk in ``<output_dir>/.state`` so that a workflow manager
can run the two half maps as separate steps or jobs:

1. :func:`prepare` - read and check the maps, molecular volume, boxing, half-map FSC and
   resolution, half-map sharpening (overall B, anisotropy), solvent mask, density histograms.
2. :func:`modify_half` (once per half map, independent) - cycles of map-likelihood phasing and
   per-half recombination.
3. :func:`finish` - error model from the four maps, recombination into the full map, corrected
   resolution, final scaling, outputs in the input's box.

:func:`run` chains them.  Every output is first written into the state directory and moved
into place at the very end, so a failed run leaves nothing half-written behind.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from . import boxing, checks, mapio, sequence, symmetry
from .errors import InputError, NotAvailableError
from .fourier import Shells, irfft, rfft
from .fsc import fsc, fsc_from_cc, fsc_ref, resolution_at
from .histograms import (DensityHistogram, added_noise_sd, density_histograms,
                         flat_histogram)
from .likelihood import map_phasing, r_value
from .masking import (final_solvent_mask, flatten_solvent, local_rms, mask_from_file,
                      noise_scale, normalise_noise, probabilistic_mask, signal_estimate)
from .params import DensityModificationParams
from .recombination import half_weights, recombine
from .local import local_weighting
from .runlog import RunLog
from .weighting import real_space_weighting, sigma_weighting
from .sharpening import (anisotropy_correction, b_factor_scale, final_scale,
                         half_map_sharpening_scale, lowpass, shell_rms,
                         spectral_profile)

STATE = ".state"
OUTPUTS = {
    "denmod_map": "denmod_map.mrc",
    "denmod_half_map_1": "denmod_half_map_1.mrc",
    "denmod_half_map_2": "denmod_half_map_2.mrc",
    "initial_map": "initial_map.mrc",
    "results": "results.json",
    "log": "resolvecryoem.log",
    "local_resolution": "local_resolution.mrc",  # only with local_sharpening
}
R_VALUE_DEFINITION = ("R = sum|F_o - k F_ML| / sum|F_o| over 0 < |s| <= 1/resolution, F_o the "
                      "sharpened starting half map, F_ML its map-likelihood coefficients, k "
                      "the least-squares scale; the first cycle's value is the one to compare "
                      "with the documented 0.25-0.5")
# Radius of the sphere for the local rms, in units of the resolution (ALGORITHM.md section 4).
MASK_RADIUS_RATIO = 2.0


# ---------------------------------------------------------------------------------------------
# Stage 1
# ---------------------------------------------------------------------------------------------
def prepare(half_map_1, half_map_2, output_dir, params: DensityModificationParams | None = None,
            seq_file=None, full_map=None, mask=None, model=None, symmetry_file=None,
            log=print) -> Path:
    """Read, check, box, sharpen, mask; write the state for :func:`modify_half`."""
    params = params or DensityModificationParams()
    if model is not None:
        raise NotAvailableError("model-based density modification (a model file) is not "
                                "available yet")
    out = Path(output_dir)
    state = out / STATE
    rl = RunLog(log)
    created_out = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        if state.exists():
            shutil.rmtree(state)
        state.mkdir()
        if symmetry_file is not None:
            symmetry.read_ncs_spec(symmetry_file)  # fail early, naming the file
        meta = _prepare(Path(half_map_1), Path(half_map_2), params, seq_file, full_map, mask,
                        state, rl)
        meta["symmetry_file"] = None if symmetry_file is None else str(
            Path(symmetry_file).resolve())
        if symmetry_file is not None:
            meta["inputs"]["symmetry_file"] = meta["symmetry_file"]
            meta["input_sha256"]["symmetry_file"] = _sha256(symmetry_file)
    except BaseException:
        shutil.rmtree(state, ignore_errors=True)
        if created_out and out.exists() and not any(out.iterdir()):
            out.rmdir()
        raise
    meta["log"] = rl.lines
    meta["timings"] = rl.timings
    meta["warnings"] = rl.warnings
    _write_json(state / "meta.json", meta)
    return state


def _prepare(path1, path2, params, seq_file, full_map, mask, state, rl):
    threads = params.threads
    rl(f"resolvecryoem density modification; half maps {path1} and {path2}")
    with rl.step("reading maps"):
        h1, info = mapio.read_map(path1)
        h2, info2 = mapio.read_map(path2)
        for w in checks.check_half_maps(h1, info, h2, info2):
            rl.warn(w)
        full = mask_map = None
        if full_map is not None:
            full, finfo = mapio.read_map(full_map)
            checks.check_same_grid(full, finfo, info, "full map")
        if mask is not None:
            mask_map, minfo = mapio.read_map(mask)
            checks.check_same_grid(mask_map, minfo, info, "mask")
            checks.check_mask(mask_map, minfo)
    voxel = np.asarray(info.voxel_size, dtype=np.float64)
    box_volume = float(np.prod(np.asarray(h1.shape) * voxel))
    inputs = {"half_map_1": path1, "half_map_2": path2, "seq_file": seq_file,
              "full_map": full_map, "mask": mask}

    with rl.step("molecular volume"):
        volume, how = molecular_volume(params, seq_file, box_volume)
        rl(f"molecular volume {volume:.0f} A^3 ({how}); solvent fraction of the input box "
           f"{sequence.solvent_fraction(volume, box_volume):.3f}")

    with rl.step("half-map FSC of the input box"):
        F1_big = rfft(h1, threads)
        F2_big = rfft(h2, threads)
        shells_big = Shells.for_box(h1.shape, voxel)
        d_input = resolution_at(fsc(F1_big, F2_big, shells_big), shells_big, 0.143)
        rl(f"half-map FSC = 0.143 at {d_input:.2f} A over the whole input box")
        del F1_big, F2_big

    box = None
    with rl.step("boxing"):
        if params.box_before_analysis:
            avg = 0.5 * (h1 + h2)
            box = boxing.find_box(avg, voxel, volume, params.resolution or d_input,
                                  params.box_cushion)
            del avg
        if box is None:
            rl("not boxing: " + ("box_before_analysis is off" if not params.box_before_analysis
                                 else "the molecule fills most of the box"))
            b1, b2 = h1, h2
        else:
            b1, b2 = boxing.cut(h1, box), boxing.cut(h2, box)
            rl(f"boxed to {tuple(int(n) for n in b1.shape)} voxels "
               f"(from {tuple(int(n) for n in h1.shape)}), lower corner "
               f"{tuple(int(n) for n in box.lower)}")
        boxed_volume = float(np.prod(np.asarray(b1.shape) * voxel))
        f_boxed = sequence.solvent_fraction(volume, boxed_volume)
        rl(f"solvent fraction of the analysed box {f_boxed:.3f}")

    shells = Shells.for_box(b1.shape, voxel)
    with rl.step("resolution"):
        F1 = rfft(b1, threads)
        F2 = rfft(b2, threads)
        half_fsc = fsc(F1, F2, shells)
        d_fsc = resolution_at(half_fsc, shells, 0.143)
        nyquist = 2.0 * float(voxel.max())
        if params.resolution is not None:
            if params.resolution < nyquist - 1e-6:
                raise InputError(f"resolution {params.resolution} A is finer than Nyquist "
                                 f"({nyquist:.2f} A) of {path1}")
            resolution = params.resolution
            rl(f"resolution {resolution:.2f} A as given (half-map FSC 0.143 at {d_fsc:.2f} A)")
        else:
            resolution = max(d_fsc, nyquist)
            rl(f"resolution {resolution:.2f} A from the half-map FSC = 0.143")
        dm_resolution = params.dm_resolution or auto_dm_resolution(
            resolution, nyquist, params.dm_resolution_ratio)
        if dm_resolution < nyquist - 1e-6:
            raise InputError(f"dm_resolution {dm_resolution} A is finer than Nyquist "
                             f"({nyquist:.2f} A) of {path1}")
        b_iso = params.b_iso if params.b_iso is not None else params.target_b_ratio * resolution
        rl(f"density modification to {dm_resolution:.2f} A; overall B before density "
           f"modification {b_iso:.1f} A^2")

    with rl.step("half-map sharpening"):
        avg_F = 0.5 * (F1 + F2)
        aniso = anisotropy_correction(avg_F, shells, resolution) if params.remove_aniso \
            else np.float32(1.0)
        rms_avg = shell_rms(avg_F * aniso, shells)
        del avg_F
        scale = half_map_sharpening_scale(rms_avg, shells, b_iso, resolution,
                                          params.density_modify_unsharpened_maps, half_fsc)
        S = shells.expand(scale) * aniso
        O1 = (F1 * S).astype(np.complex64)
        O2 = (F2 * S).astype(np.complex64)
        O_full = None
        if full is not None:
            fb = boxing.cut(full, box) if box is not None else full
            O_full = (rfft(fb, threads) * S).astype(np.complex64)
        del F1, F2, S
        rl("sharpened both half maps: " + ("overall B and anisotropy only "
           "(density_modify_unsharpened_maps)" if params.density_modify_unsharpened_maps
           else "shell amplitudes set to overall B " + f"{b_iso:.0f} A^2") +
           (", anisotropy removed" if params.remove_aniso else ""))

    with rl.step("solvent mask"):
        keep = lowpass(shells, dm_resolution)
        rho_full = irfft(0.5 * (O1 + O2) * keep, b1.shape, threads)
        if mask_map is not None:
            mb = boxing.cut(mask_map, box) if box is not None else mask_map
            p_molecule = mask_from_file(mb, shells, resolution, threads)
            rl("molecule region from the mask file")
        else:
            lrms = local_rms(signal_estimate(0.5 * (O1 + O2), half_fsc, shells, threads),
                             shells, MASK_RADIUS_RATIO * resolution, threads)
            p_molecule = probabilistic_mask(lrms, f_boxed)
            del lrms
            rl(f"probabilistic molecule mask from local rms (radius "
               f"{MASK_RADIUS_RATIO * resolution:.1f} A), mean P(molecule) "
               f"{p_molecule.mean():.3f}")

    with rl.step("density histograms"):
        # Noise of one half map, filtered like the maps used in density modification:
        # var(rho1 - rho2) = 2 sigma_half^2; the noise is not stationary, so the maps are
        # normalised by its local level s(x) (1 in the molecule) and so is everything below.
        diff = irfft((O1 - O2) * keep, b1.shape, threads)
        s_noise = noise_scale(diff, p_molecule, shells, MASK_RADIUS_RATIO * resolution,
                              threads)
        diff /= s_noise
        var_half = 0.5 * float(np.mean(diff * diff, dtype=np.float64))
        del diff
        w_s = 1.0 - p_molecule
        mu = float(np.sum(w_s * rho_full, dtype=np.float64) / max(np.sum(w_s), 1e-30))
        solvent_h, molecule_h = density_histograms(
            rho_full, p_molecule, added_noise_sd(var_half),
            solvent_values=normalise_noise(rho_full, s_noise, mu))
        rl(f"solvent histogram mean {solvent_h.mean():.3g} sd "
           f"{np.sqrt(solvent_h.variance()):.3g}; molecule mean {molecule_h.mean():.3g} sd "
           f"{np.sqrt(molecule_h.variance()):.3g}; half-map noise sd {np.sqrt(var_half):.3g}")

    with rl.step("saving state"):
        arrays = dict(O1=O1, O2=O2, p_molecule=p_molecule, half_fsc=half_fsc,
                      sharpen_scale=scale, noise_scale=s_noise,
                      hist_centres=solvent_h.centres, hist_solvent=solvent_h.density,
                      hist_molecule=molecule_h.density)
        if O_full is not None:
            arrays["O_full"] = O_full
        if box is not None:
            arrays["box_edge_weight"] = box.edge_weight
        for k, v in arrays.items():
            np.save(state / f"{k}.npy", v)
    return dict(
        inputs={k: (None if v is None else str(Path(v).resolve())) for k, v in inputs.items()},
        input_sha256={k: _sha256(v) for k, v in inputs.items() if v is not None},
        parameters=params.to_dict(),
        box=None if box is None else {"lower": [int(n) for n in box.lower],
                                      "upper": [int(n) for n in box.upper]},
        boxed_shape=[int(n) for n in b1.shape],
        input_shape=[int(n) for n in h1.shape],
        input_start_A=[float(v) for v in info.start_A],
        voxel_size=[float(v) for v in voxel],
        molecular_volume_A3=volume,
        solvent_fraction={"input_box": sequence.solvent_fraction(volume, box_volume),
                          "boxed": f_boxed},
        resolution={"half_map_fsc": d_fsc, "half_map_fsc_input_box": d_input,
                    "used": resolution, "dm_resolution": dm_resolution},
        b_iso=b_iso,
    )


def _symmetry_operators(meta, params) -> list:
    """(R, t) operators from the symmetry keyword or file, or [] without symmetry."""
    if meta.get("symmetry_file"):
        return symmetry.read_ncs_spec(meta["symmetry_file"])
    if params.symmetry and params.symmetry.strip().upper() not in ("C1", ""):
        centre = symmetry.box_centre_xyz(meta["input_shape"], meta["voxel_size"],
                                         meta["input_start_A"])
        return symmetry.operators_about(symmetry.point_group(params.symmetry), centre)
    return []


def half_map_resolution(half_map_1, half_map_2) -> float:
    """Resolution (A) where the half-map FSC over the whole box falls below 0.143."""
    h1, info = mapio.read_map(half_map_1)
    h2, info2 = mapio.read_map(half_map_2)
    checks.check_half_maps(h1, info, h2, info2)
    shells = Shells.for_box(h1.shape, info.voxel_size)
    return resolution_at(fsc(rfft(h1), rfft(h2), shells), shells, 0.143)


def auto_dm_resolution(resolution_A: float, nyquist_A: float, ratio: float) -> float:
    """Automatic dm_resolution: ratio x resolution, but all the way to Nyquist when that is
    within 15% of it (a thin band of untouched shells just below Nyquist only costs: the
    benchmark's 3 A cases at 1 A voxels lost inside-envelope FSC there)."""
    d = ratio * resolution_A
    return nyquist_A if d < 1.15 * nyquist_A else d


def molecular_volume(params: DensityModificationParams, seq_file, box_volume_A3):
    """Molecular volume (A^3) and how it was obtained: sequence file (x copies), molecular
    mass, or a solvent fraction of the INPUT box (ALGORITHM.md section 1)."""
    if seq_file is not None:
        chains = sequence.read_sequence(seq_file)
        v = sequence.molecular_volume(chains, params.copies)
        m = sequence.molecular_mass(chains, params.copies)
        return v, f"sequence {seq_file}, {params.copies} copies, {m / 1000:.1f} kDa"
    if params.molecular_mass is not None:
        return sequence.volume_from_mass(params.molecular_mass), \
            f"molecular mass {params.molecular_mass / 1000:.1f} kDa"
    if params.solvent_fraction is not None:
        return (1.0 - params.solvent_fraction) * box_volume_A3, \
            f"solvent fraction {params.solvent_fraction} of the input box"
    raise InputError("give a sequence file, a molecular mass or a solvent fraction: the "
                     "molecular volume is needed for the solvent mask")


# ---------------------------------------------------------------------------------------------
# Stage 2
# ---------------------------------------------------------------------------------------------
def modify_half(state_dir, which: int, log=print) -> dict:
    """Map-likelihood phasing of one half map (1 or 2), ``cycles`` times.

    Each cycle starts from the recombined half map of the previous one (ALGORITHM.md section
    5): density modification -> map-phasing coefficients D -> per-half recombination with
    the original half map.  Writes ``D<which>.npy`` (the last map-phasing coefficients) and
    ``half<which>.json`` (R-values, timings) into the state directory.
    """
    if which not in (1, 2):
        raise ValueError("which must be 1 or 2")
    state = Path(state_dir)
    meta = _read_json(state / "meta.json")
    params = DensityModificationParams.from_dict(meta["parameters"])
    threads = params.threads
    rl = RunLog(log)
    shape = tuple(meta["boxed_shape"])
    shells = Shells.for_box(shape, meta["voxel_size"])
    O_i = np.load(state / f"O{which}.npy")
    O_j = np.load(state / f"O{3 - which}.npy")
    p_molecule = np.load(state / "p_molecule.npy")
    s_noise = np.load(state / "noise_scale.npy")
    solvent = DensityHistogram(np.load(state / "hist_centres.npy"),
                               np.load(state / "hist_solvent.npy"))
    molecule = DensityHistogram(solvent.centres, np.load(state / "hist_molecule.npy"))
    if not params.use_molecule_histogram:
        molecule = flat_histogram(molecule)
    dm_resolution = meta["resolution"]["dm_resolution"]
    keep = lowpass(shells, dm_resolution)
    # R over the shells that carry signal (beyond the resolution the coefficients are mostly
    # noise and R tends to 1 whatever the map).
    r_select = (shells.s_grid <= 1.0 / meta["resolution"]["used"]) & (shells.s_grid > 0)
    C = O_i
    rms_i = shell_rms(O_i, shells)
    ops = _symmetry_operators(meta, params)
    if ops:
        lower = np.array(meta["box"]["lower"] if meta["box"] else [0, 0, 0])
        start_boxed = np.asarray(meta["input_start_A"]) + lower * np.asarray(meta["voxel_size"])
        rl(f"symmetry: {len(ops)} operators averaged in the molecule region")
    r_values = []
    for cycle in range(1, params.cycles + 1):
        with rl.step(f"half map {which}: density modification cycle {cycle}/{params.cycles}"):
            rho = irfft(C * keep, shape, threads)
            target = symmetry.symmetry_target(rho, ops, p_molecule, meta["voxel_size"],
                                              start_boxed) if ops else None
            D, terms = map_phasing(C, rho, p_molecule, solvent, molecule, keep, threads,
                                   target=target, noise_scale=s_noise)
            del target, rho
            r = r_value(O_i, D, r_select)
            r_values.append(r)
            w = half_weights(O_i, O_j, D, shells)
            # The next cycle starts from the recombined map brought back to the original's
            # shell amplitudes: the recombination weights act like an FSC weighting, which
            # the benchmark showed harms density modification's input.
            C = w.apply(O_i, D, shells)
            C *= shells.expand(rms_i / np.maximum(shell_rms(C, shells), 1e-30))
            sel = shells.s <= 1.0 / dm_resolution
            rl(f"half map {which} cycle {cycle}: R-value {r:.3f}, mean weight of the "
               f"map-phasing coefficients {np.mean(w.w_d[sel]):.2f}, mean CC_ref "
               f"{np.mean(w.cc_ref[sel]):.3f}")
    np.save(state / f"D{which}.npy", D)
    result = {"r_values": r_values, "timings": rl.timings, "log": rl.lines}
    _write_json(state / f"half{which}.json", result)
    return result


# ---------------------------------------------------------------------------------------------
# Stage 3
# ---------------------------------------------------------------------------------------------
def finish(state_dir, log=print) -> dict:
    """Recombine the four maps, estimate the corrected resolution, scale, write the outputs."""
    state = Path(state_dir)
    out = state.parent
    meta = _read_json(state / "meta.json")
    params = DensityModificationParams.from_dict(meta["parameters"])
    threads = params.threads
    rl = RunLog(log)
    shape = tuple(meta["boxed_shape"])
    voxel = np.asarray(meta["voxel_size"])
    shells = Shells.for_box(shape, voxel)
    load = lambda name: np.load(state / f"{name}.npy")  # noqa: E731
    halves = [_read_json(state / f"half{i}.json") for i in (1, 2)]
    resolution = meta["resolution"]["used"]
    O1, O2, D1, D2 = load("O1"), load("O2"), load("D1"), load("D2")
    O_full = load("O_full") if (state / "O_full.npy").exists() else None

    with rl.step("error model and recombination"):
        rec = recombine(O1, O2, D1, D2, shells, full_map=O_full)
        half_fsc = load("half_fsc")
        cc_before = fsc_ref(half_fsc)
        d_after = resolution_at(rec.full.cc_ref, shells, 0.5)
        cross1 = fsc(rec.C1, O2, shells)
        cross2 = fsc(rec.C2, O1, shells)
        orig = np.maximum(fsc(O1, O2, shells), 1e-6)
        # Equivalent half-map FSC of the modified halves from independent comparisons only:
        # CC(C_i, S) = FSC(C_i, O_j) / sqrt(FSC(O1, O2)); FSC_equiv = CC(C1, S) CC(C2, S).
        fsc_cross_equiv = np.clip(cross1, 0, None) * np.clip(cross2, 0, None) / orig
        d_cross = resolution_at(fsc_cross_equiv, shells, 0.143)
        denmod_halves = fsc(rec.C1, rec.C2, shells)
        rl(f"resolution before {meta['resolution']['half_map_fsc']:.2f} A (half-map FSC "
           f"0.143); after density modification {d_after:.2f} A (corrected CC_ref = 0.5), "
           f"{d_cross:.2f} A from the independent cross-FSCs; the FSC of the modified half "
           f"maps with each other ({resolution_at(denmod_halves, shells, 0.143):.2f} A) is "
           f"inflated by the correlated error and is not used")

    F_rec = rec.F
    if params.sigma_weighting or params.real_space_weighting:
        with rl.step("local weighting"):
            if params.sigma_weighting:
                F_rec = sigma_weighting(F_rec, O1, O2, D1, D2, rec.a, rec.var_s, shells)
                rl("sigma weighting: coefficients weighted by their spread among the four "
                   "maps")
            if params.real_space_weighting:
                F_rec = real_space_weighting(F_rec, rec.C1, rec.C2, O1, O2, rec.var_s,
                                             shells, MASK_RADIUS_RATIO * resolution, threads)
                rl("real-space weighting: recombined and original maps mixed by their local "
                   "noise (resolution estimates above are from before this step)")

    with rl.step("final scaling"):
        b_iso = meta["b_iso"]
        level = shell_rms(0.5 * (O1 + O2), shells)
        low = (shells.s > 0) & (shells.s < 1 / 8.0)
        target = b_factor_scale(shells, b_iso) * (np.mean(level[low]) if low.any() else 1.0)
        kw = dict(final_scale_with_fsc_ref=params.final_scale_with_fsc_ref,
                  geometric_scaling=params.geometric_scaling,
                  spectral_profile=spectral_profile(shells) if params.spectral_scaling
                  else None)
        blur = b_factor_scale(shells, 2.0 * resolution) if params.blur_by_resolution else 1.0
        fs_full = final_scale(shell_rms(F_rec, shells), rec.full.cc_ref, target, shells,
                              **kw) * blur
        fs_half = [final_scale(shell_rms(C, shells), w.cc_ref, target, shells, **kw) * blur
                   for C, w in zip((rec.C1, rec.C2), rec.half)]
        F = F_rec * shells.expand(fs_full)
        local_res = None
        if params.local_sharpening:
            local_map, local_res = local_weighting(F, O1, O2, shells, resolution, threads)
            F = rfft(local_map, threads)
            rl("local sharpening: each resolution band weighted by the local half-map "
               f"correlation (median local resolution {np.median(local_res):.2f} A)")
        Cs = [C * shells.expand(f) for C, f in zip((rec.C1, rec.C2), fs_half)]
        # The map before density modification, sharpened as a user would look at it:
        # FSC_ref-weighted half-map average.
        initial = 0.5 * (O1 + O2) * shells.expand(cc_before)
        # Outside the analysed box there is no density modification: the input is treated
        # like the original-map part of the inside, i.e. filtered by the same per-shell
        # chain sharpening x weight of the original x final scale (where the recombination
        # relied on the flattened map, the unflattened outside is weighted down with it).
        sharpen = load("sharpen_scale")
        outside = {"denmod_map": sharpen * rec.full.w_o * fs_full,
                   "initial_map": sharpen * cc_before,
                   "denmod_half_map_1": sharpen * rec.half[0].w_o * fs_half[0],
                   "denmod_half_map_2": sharpen * rec.half[1].w_o * fs_half[1]}

    with rl.step("writing maps in the input box"):
        h1, info = mapio.read_map(meta["inputs"]["half_map_1"])
        h = [h1, mapio.read_map(meta["inputs"]["half_map_2"])[0]]
        box = None if meta["box"] is None else boxing.Box(
            np.array(meta["box"]["lower"]), np.array(meta["box"]["upper"]),
            load("box_edge_weight"))
        tmp = {}
        big_shells = Shells.for_box(h[0].shape, voxel) if box else None
        F_avg_big = rfft(0.5 * (h[0] + h[1]), threads) if box else None
        flat = final_solvent_mask(load("p_molecule"), shells, resolution, threads) \
            if params.final_solvent_flattening else None
        jobs = [("denmod_map", F, "avg"), ("initial_map", initial, "avg"),
                ("denmod_half_map_1", Cs[0], 1), ("denmod_half_map_2", Cs[1], 2)]
        for name, spec, which in jobs:
            boxed_map = irfft(spec, shape, threads)
            if box:
                Fb = F_avg_big if which == "avg" else rfft(h[which - 1], threads)
                t = np.interp(big_shells.s_grid, shells.s, outside[name]).astype(np.float32)
                background = irfft(Fb * t, h[0].shape, threads)
                full_map = boxing.paste(boxed_map, background, box)
            else:
                full_map = boxed_map
            if name == "denmod_map" and flat is not None:
                full_map = flatten_solvent(full_map, boxing.paste(
                    flat, np.zeros(h[0].shape, np.float32), box) if box else flat)
            tmp[name] = state / ("out_" + OUTPUTS[name])
            mapio.write_map(tmp[name], full_map.astype(np.float32), info)
        if flat is not None:
            rl(f"solvent of the final map flattened outside a soft mask (molecule region "
               f"dilated by about {2.5 * resolution:.1f} A; {flat.mean():.2f} of the analysed "
               f"box)")
        if local_res is not None:
            # Outside the analysed box there is no local estimate: the overall resolution.
            res_map = boxing.paste(local_res, np.full(h[0].shape, resolution, np.float32),
                                   box) if box else local_res
            tmp["local_resolution"] = state / "out_local_resolution.mrc"
            mapio.write_map(tmp["local_resolution"], res_map, info)

    results = dict(
        version=_version(),
        inputs={k: {"path": v, "sha256": meta["input_sha256"].get(k)}
                for k, v in meta["inputs"].items() if v is not None},
        parameters=meta["parameters"],
        box=meta["box"],
        molecular_volume_A3=meta["molecular_volume_A3"],
        solvent_fraction=meta["solvent_fraction"],
        resolution=dict(meta["resolution"], after_corrected=d_after, after_cross=d_cross),
        b_iso=meta["b_iso"],
        r_values={"definition": R_VALUE_DEFINITION,
                  "half_map_1": halves[0]["r_values"], "half_map_2": halves[1]["r_values"]},
        fsc={"s": shells.s.tolist(), "n_coefficients": shells.count.tolist(),
             "half_maps_before": half_fsc.tolist(), "cc_ref_before": cc_before.tolist(),
             "cc_ref_after": rec.full.cc_ref.tolist(),
             "fsc_equivalent_after": fsc_from_cc(rec.full.cc_ref).tolist(),
             "denmod_half_1_vs_original_half_2": cross1.tolist(),
             "denmod_half_2_vs_original_half_1": cross2.tolist(),
             "fsc_equivalent_cross": fsc_cross_equiv.tolist(),
             "denmod_halves": denmod_halves.tolist(),
             "weight_map_phasing": rec.full.w_d.tolist(),
             "weight_original": rec.full.w_o.tolist(),
             "signal_scale_map_phasing": rec.a.tolist()},
        histograms={"centres": load("hist_centres").tolist(),
                    "solvent": load("hist_solvent").tolist(),
                    "molecule": load("hist_molecule").tolist()},
        timings={**meta["timings"], **{k: v for hh in halves for k, v in hh["timings"].items()},
                 **rl.timings},
        warnings=meta["warnings"],
        outputs={k: OUTPUTS[k] for k in list(tmp) + ["results", "log"]},
    )
    log_text = "\n".join(meta["log"] + halves[0]["log"] + halves[1]["log"] + rl.lines) + "\n"
    mapio.atomic_write_text(state / "out_results.json", json.dumps(results, indent=1))
    mapio.atomic_write_text(state / "out_log", log_text)
    tmp["results"] = state / "out_results.json"
    tmp["log"] = state / "out_log"
    for name, path in tmp.items():
        os.replace(path, out / OUTPUTS[name])
    shutil.rmtree(state, ignore_errors=True)
    rl(f"wrote {', '.join(OUTPUTS[k] for k in tmp)} in {out}")
    return results


# ---------------------------------------------------------------------------------------------
def run(half_map_1, half_map_2, output_dir, params: DensityModificationParams | None = None,
        seq_file=None, full_map=None, mask=None, model=None, symmetry_file=None,
        log=print) -> dict:
    """The whole procedure: prepare, density-modify each half map, finish."""
    params = params or DensityModificationParams()
    state = prepare(half_map_1, half_map_2, output_dir, params, seq_file=seq_file,
                    full_map=full_map, mask=mask, model=model, symmetry_file=symmetry_file,
                    log=log)
    try:
        modify_half(state, 1, log=log)
        modify_half(state, 2, log=log)
        return finish(state, log=log)
    except BaseException:
        shutil.rmtree(state, ignore_errors=True)
        raise


# ---------------------------------------------------------------------------------------------
def _sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_json(path, obj):
    mapio.atomic_write_text(path, json.dumps(obj, indent=1, default=_json_default))


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o))


def _version() -> str:
    from .. import __version__
    return __version__
