"""Density modification of two half maps, step by step as the reference program documents it.

Three stages, with their state on disk in ``<output_dir>/.state`` so that a workflow manager
can run the two half maps as separate steps or jobs:

1. :func:`prepare` - read and check the maps, molecular volume, boxing, half-map FSC and
   resolution, half-map sharpening (overall B, anisotropy), solvent mask, density histograms.
2. :func:`modify_half` (once per half map, independent) - cycles of map-likelihood phasing and
   per-half recombination.
3. :func:`finish` - error model from the four maps, recombination into the full map, corrected
   resolution, final scaling, outputs in the input's box.

:func:`run` chains them.  Every output is first written into the state directory and the set
is moved into place as a whole at the very end (:mod:`publish`), so a failed or interrupted
run leaves nothing half-written behind and the output folder never holds a mix of two runs.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import boxing, checks, mapio, models, publish, sequence, symmetry
from .errors import InputError
from .validation import HELPED, MADE_WORSE, SUSPECT, envelope_from_spectra, verdict_from_run
from .fourier import Shells, irfft, rfft
from .fsc import fsc, fsc_from_cc, fsc_ref, resolution_at
from .histograms import (DensityHistogram, added_noise_sd, density_histograms,
                         flat_histogram)
from .likelihood import likelihood_terms, newton_step, r_value
from .masking import (final_solvent_mask, flatten_solvent, local_rms, mask_from_file,
                      masked_rfft, noise_scale, normalise_noise, probabilistic_mask,
                      signal_estimate)
from .params import DM_RATIO_RANGE, DensityModificationParams
from .recombination import half_weights, recombine
from .local import local_weighting
from .runlog import RunLog
from .units import run_units
from .weighting import real_space_weighting, sigma_weights
from .sharpening import (anisotropy_correction, b_factor_scale, final_scale,
                         half_map_sharpening_scale, hold_low_resolution, lowpass,
                         match_shell_rms, shell_rms,
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
    "denmod_map_no_model": "denmod_map_no_model.mrc",  # only with a model
    "composite_model": "composite_model.cif",  # only with a model
}
RESOLUTION_DEFINITIONS = {
    "half_map_fsc": "half-map FSC = 0.143 in the analysed box, before density modification",
    "after_corrected": "delivered map (the average of the delivered half maps): where its CC "
                       "with the truth, 0.5 [cov(C1,O2) + cov(C2,O1)] / sqrt(var C var S), "
                       "falls below 0.5 (equivalent to half-map FSC 0.143), whole box",
    "after_cross": "delivered half maps: equivalent half-map FSC FSC(C1,O2) FSC(C2,O1) / "
                   "FSC(O1,O2) = 0.143",
    "before_envelope": "as half_map_fsc, inside a molecular envelope made from the maps",
    "after_envelope": "as after_corrected, inside the same envelope",
}
R_VALUE_DEFINITION = ("R = sum|F_o - k F_ML| / sum|F_o| over 0 < |s| <= 1/resolution, F_o the "
                      "sharpened starting half map, F_ML its map-likelihood coefficients, k "
                      "the least-squares scale. NOT comparable with the reference program's "
                      "documented 0.25-0.5: ours compares whitened (half-map-sharpened) maps, "
                      "whose noisy outer shells weigh as much as the strong inner ones, so "
                      "typical values are 0.55-0.7; use it to compare runs of this program")
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
    if params.model_sharpening and model is None and not params.density_modify_with_model:
        raise InputError("model_sharpening needs models: give an atomic model (--model, "
                         "protocol inputModel) or density_modify_with_model")
    out = Path(output_dir)
    state = out / STATE
    rl = RunLog(log)
    publish.check_output_dir(out, inputs=(half_map_1, half_map_2, seq_file, full_map, mask,
                                          symmetry_file, model))
    created_out = not out.exists()
    try:
        out.mkdir(parents=True, exist_ok=True)
        for note in publish.recover(out):  # after a run killed outright (SIGKILL)
            rl(note)
        if state.exists():
            rl(f"removed the state folder {state} of an unfinished earlier run")
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
            meta["input_sha256"]["symmetry_file"] = checks.file_sha256(symmetry_file)
        if model is not None:
            meta["model"] = _model_check_step(model, meta, state, rl)
            meta["inputs"]["model"] = str(Path(model).resolve())
            meta["input_sha256"]["model"] = checks.file_sha256(model)
        elif params.density_modify_with_model:
            meta["model"] = _auto_model_step(meta, params, rl)
    except BaseException:
        _remove_state(state, created_out)
        raise
    meta["created_output_dir"] = created_out
    meta["log"] = rl.lines
    meta["timings"] = rl.timings
    meta["warnings"] = rl.warnings
    _write_json(state / "meta.json", meta)
    return state


def _prepare(path1, path2, params, seq_file, full_map, mask, state, rl):
    rl(f"resolvecryoem density modification; half maps {path1} and {path2}")
    inputs = {"half_map_1": path1, "half_map_2": path2, "seq_file": seq_file,
              "full_map": full_map, "mask": mask}
    digests = checks.in_background(checks.files_sha256, inputs)  # while the work goes on
    maps = _read_inputs(path1, path2, full_map, mask, params.voxel_size, rl)
    volume = _molecular_volume_step(params, seq_file, maps.info, rl)
    d_input, F1, F2, shells, input_fsc = _input_box_resolution(maps, params.threads, rl)
    box, b1, b2, f_boxed = _boxing_step(maps, volume, params, d_input, rl)
    if box is not None:  # else the analysed box is the input box: its transforms are above
        del F1, F2, input_fsc
        shells = Shells.for_box(b1.shape, maps.info.voxel_size)
        F1, F2 = rfft(b1, params.threads), rfft(b2, params.threads)
    # The half maps are read again for the independence step rather than held through the
    # steps in between (8 bytes per voxel).
    input_shape, boxed_shape = maps.h1.shape, b1.shape
    maps.h1 = maps.h2 = None
    del b1, b2
    res = _resolution_step(F1, F2, shells, params, path1, rl,
                           half_fsc=input_fsc if box is None else None)
    _envelope_step(F1, F2, shells, res, f_boxed, params.threads, state, rl)
    O1, O2, O_full, scale = _sharpening_step(F1, F2, shells, res, params, maps.full, box, rl)
    del F1, F2  # O1, O2 now (scaled in place)
    keep = lowpass(shells, res["dm_resolution"], threads=params.threads)
    rho_full, p_molecule = _solvent_mask_step(O1, O2, keep, shells, maps.mask, box, res,
                                              f_boxed, params.threads, rl)
    # All the histograms need of the spectra is their difference: the spectra are saved and
    # let go first.
    diff = O1 - O2
    diff *= keep
    del keep
    with rl.step("saving state"):
        np.save(state / "O1.npy", O1)
        np.save(state / "O2.npy", O2)
        del O1, O2
    noise = irfft(diff, shells.shape, params.threads, overwrite=True)
    del diff
    solvent_h, molecule_h, s_noise = _histogram_step(noise, shells, rho_full, p_molecule,
                                                     res["used"], params.threads, rl)
    del rho_full, noise
    half_fsc = res.pop("half_fsc")
    with rl.step("saving state"):
        arrays = dict(p_molecule=p_molecule, half_fsc=half_fsc,
                      sharpen_scale=scale, noise_scale=s_noise, hist_centres=solvent_h.centres,
                      hist_solvent=solvent_h.density, hist_molecule=molecule_h.density)
        if O_full is not None:
            arrays["O_full"] = O_full
        for k, v in arrays.items():
            np.save(state / f"{k}.npy", v)
        del arrays, O_full, s_noise
    # The molecule region dilated by ~2.5 x resolution: the independence test looks for
    # shared noise outside it, and finish flattens the delivered maps' solvent outside it.
    near_molecule = final_solvent_mask(p_molecule, shells, res["used"], params.threads)
    np.save(state / "final_solvent_mask.npy", near_molecule)
    independence = _independence_step(half_fsc, (path1, path2), box, near_molecule, shells,
                                      params.threads, rl)
    del near_molecule
    info, box_volume = maps.info, maps.info.box_volume_A3
    b_iso = res.pop("b_iso")
    return dict(
        inputs={k: (None if v is None else str(Path(v).resolve())) for k, v in inputs.items()},
        input_sha256=digests.result(),
        parameters=params.to_dict(),
        box=None if box is None else box.to_dict(),
        boxed_shape=[int(n) for n in boxed_shape],
        input_shape=[int(n) for n in input_shape],
        input_start_A=[float(v) for v in info.start_A],
        voxel_size=[float(v) for v in info.voxel_size],
        molecular_volume_A3=volume,
        solvent_fraction={"input_box": sequence.solvent_fraction(volume, box_volume),
                          "boxed": f_boxed},
        resolution=dict(res, half_map_fsc_input_box=d_input),
        b_iso=b_iso,
        independence=independence,
    )


@dataclass
class _Inputs:
    h1: np.ndarray
    h2: np.ndarray
    info: mapio.MapInfo
    full: np.ndarray | None
    mask: np.ndarray | None


def read_inputs(path1, path2, full_map=None, mask=None, voxel_size=None) -> tuple:
    """(h1, h2, info, full, mask, warnings): the maps, checked, in one geometry.

    ``voxel_size`` (A) overrides the headers (a recalibrated pixel size, e.g. Scipion's
    sampling rate); the outputs are then written with it."""
    h1, info = mapio.read_map(path1)
    h2, info2 = mapio.read_map(path2)
    if voxel_size is not None:
        info, info2 = (mapio.with_voxel_size(i, voxel_size) for i in (info, info2))
    warnings = checks.check_half_maps(h1, info, h2, info2)
    full = mask_map = None
    if full_map is not None:
        full, finfo = mapio.read_map(full_map)
        checks.check_same_grid(full, finfo, info, "full map", check_voxel=voxel_size is None)
    if mask is not None:
        mask_map, minfo = mapio.read_map(mask)
        checks.check_same_grid(mask_map, minfo, info, "mask", check_voxel=voxel_size is None)
        checks.check_mask(mask_map, minfo)
    return h1, h2, info, full, mask_map, warnings


def _read_inputs(path1, path2, full_map, mask, voxel_size, rl) -> _Inputs:
    with rl.step("reading maps"):
        h1, h2, info, full, mask_map, warnings = read_inputs(path1, path2, full_map, mask,
                                                             voxel_size)
        for w in warnings:
            rl.warn(w)
        if voxel_size is not None:
            rl(f"voxel size {voxel_size} A as given (the headers say "
               f"{mapio.read_map(path1, header_only=True)[1].voxel_size[::-1].round(4).tolist()}"
               f" A, x y z)")
    return _Inputs(h1, h2, info, full, mask_map)


def _molecular_volume_step(params, seq_file, info, rl) -> float:
    with rl.step("molecular volume"):
        volume, how = molecular_volume(params, seq_file, info.box_volume_A3)
        if seq_file is not None:
            for w in sequence.sequence_warnings(sequence.read_sequence(seq_file), seq_file):
                rl.warn(w)
        for w in checks.check_molecular_volume(volume, info.box_volume_A3, how, info.path):
            rl.warn(w)
        rl(f"molecular volume {volume:.0f} A^3 ({how}); solvent fraction of the input box "
           f"{sequence.solvent_fraction(volume, info.box_volume_A3):.3f}")
    return volume


def _input_box_resolution(maps: _Inputs, threads, rl) -> tuple:
    """(resolution in A of the half-map FSC over the input box, the two transforms, the
    shells, the FSC): passed on, for use when the maps are not boxed."""
    with rl.step("half-map FSC of the input box"):
        shells = Shells.for_box(maps.h1.shape, maps.info.voxel_size)
        F1, F2 = rfft(maps.h1, threads), rfft(maps.h2, threads)
        curve = fsc(F1, F2, shells, threads)
        d = resolution_at(curve, shells, 0.143)
        rl(f"half-map FSC = 0.143 at {d:.2f} A over the whole input box")
    return d, F1, F2, shells, curve


def _boxing_step(maps: _Inputs, volume, params, d_input, rl) -> tuple:
    """(box or None, boxed half 1, boxed half 2, solvent fraction of the analysed box)."""
    voxel = maps.info.voxel_size
    box = None
    with rl.step("boxing"):
        if params.box_before_analysis:
            box = boxing.find_box(0.5 * (maps.h1 + maps.h2), voxel, volume,
                                  params.resolution or d_input, params.box_cushion)
        if box is None:
            rl("not boxing: " + ("box_before_analysis is off" if not params.box_before_analysis
                                 else "the molecule fills most of the box"))
            b1, b2 = maps.h1, maps.h2
        else:
            b1, b2 = boxing.cut(maps.h1, box), boxing.cut(maps.h2, box)
            rl(f"boxed to {tuple(int(n) for n in b1.shape)} voxels "
               f"(from {tuple(int(n) for n in maps.h1.shape)}), lower corner "
               f"{tuple(int(n) for n in box.lower)}")
        f_boxed = sequence.solvent_fraction(volume, float(np.prod(np.asarray(b1.shape) * voxel)))
        rl(f"solvent fraction of the analysed box {f_boxed:.3f}")
    return box, b1, b2, f_boxed


def _resolution_step(F1, F2, shells: Shells, params, path1, rl, half_fsc=None) -> dict:
    """Half-map FSC, resolution, dm_resolution and b_iso; refuses maps with no signal and
    says loudly when the FSC does not fall before Nyquist."""
    with rl.step("resolution"):
        if half_fsc is None:  # else fsc(F1, F2, shells), computed already
            half_fsc = fsc(F1, F2, shells, params.threads)
        if not has_signal(half_fsc, shells):
            raise InputError(f"{path1} and its partner share no signal: the half-map FSC "
                             f"does not rise above the noise level (3/sqrt(N)) in "
                             f"{MIN_SIGNAL_SHELLS} shells; no resolution can be estimated "
                             f"and there is nothing to density-modify")
        d_fsc = resolution_at(half_fsc, shells, 0.143)
        nyquist = 2.0 * float(shells.voxel_size.max())
        if d_fsc <= nyquist * 1.01:
            rl.warn(f"the half-map FSC stays above 0.143 up to Nyquist ({nyquist:.2f} A): "
                    f"the resolution is limited by the voxel size, or the half maps are not "
                    f"independent (shared noise, or one map derived from the other). "
                    f"{nyquist:.2f} A is a bound, not an estimate")
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
        if params.dm_resolution is not None and params.resolution is None:
            # Given both, the parameters refuse a ratio outside this range; with the
            # resolution from the FSC the user could not know it: said, not refused.
            lo, hi = DM_RATIO_RANGE
            ratio = dm_resolution / resolution
            if not lo <= ratio <= hi:
                rl.warn(f"dm_resolution {dm_resolution:g} A is {ratio:.2f} x the resolution "
                        f"from the half-map FSC ({resolution:.2f} A), outside the usual "
                        f"{lo:g}-{hi:g}: density modification is limited to "
                        f"{dm_resolution:g} A as asked")
        b_iso = params.b_iso if params.b_iso is not None else params.target_b_ratio * resolution
        rl(f"density modification to {dm_resolution:.2f} A; overall B before density "
           f"modification {b_iso:.1f} A^2")
    return dict(half_fsc=half_fsc, half_map_fsc=d_fsc, used=resolution,
                dm_resolution=dm_resolution, b_iso=b_iso)


# A map with signal has at least this many shells whose half-map FSC is beyond 3 sigma of 0.
MIN_SIGNAL_SHELLS = 3


def has_signal(half_fsc, shells: Shells) -> bool:
    """Whether the half maps agree beyond noise: FSC > 3/sqrt(N) (1.5 x the 2/sqrt(N) of
    Shells.significance) in at least MIN_SIGNAL_SHELLS shells, the origin left out."""
    above = np.asarray(half_fsc)[1:] > 1.5 * shells.significance()[1:]
    return int(above.sum()) >= MIN_SIGNAL_SHELLS


def _envelope_step(F1, F2, shells, res, f_boxed, threads, state, rl) -> None:
    """The molecular envelope the assessment of the delivered maps uses
    (validation.molecule_envelope of the analysed box's original half maps), made here from
    their transforms and saved: finish would read, transform and FSC them again for it."""
    with rl.step("molecular envelope for the assessment"):
        envelope = envelope_from_spectra(F1, F2, shells, res["used"], f_boxed, threads,
                                         half_fsc=res["half_fsc"])
        np.save(state / "molecule_envelope.npy", envelope)


def _sharpening_step(F1, F2, shells, res, params, full, box, rl) -> tuple:
    """(O1, O2, O_full or None, per-shell sharpening scale): shell amplitudes set to the
    overall B b_iso, anisotropy removed (ALGORITHM.md section 3).  F1 and F2 are scaled in
    place: O1 and O2 are the same arrays."""
    with rl.step("half-map sharpening"):
        avg_F = F1 + F2
        avg_F *= 0.5
        aniso = anisotropy_correction(avg_F, shells, res["used"], threads=params.threads) \
            if params.remove_aniso else np.float32(1.0)
        avg_F *= aniso
        rms_avg = shell_rms(avg_F, shells, params.threads)
        del avg_F
        scale = half_map_sharpening_scale(rms_avg, shells, res["b_iso"], res["used"],
                                          params.density_modify_unsharpened_maps,
                                          res["half_fsc"])
        S = shells.expand(scale)
        S *= aniso
        del aniso
        O1, O2 = F1, F2
        O1 *= S
        O2 *= S
        O_full = None
        if full is not None:
            fb = boxing.cut(full, box) if box is not None else full
            O_full = rfft(fb, params.threads)
            O_full *= S
        rl("sharpened both half maps: " + ("overall B and anisotropy only "
           "(density_modify_unsharpened_maps)" if params.density_modify_unsharpened_maps
           else "shell amplitudes set to overall B " + f"{res['b_iso']:.0f} A^2") +
           (", anisotropy removed" if params.remove_aniso else ""))
    return O1, O2, O_full, scale


def _solvent_mask_step(O1, O2, keep, shells, mask_map, box, res, f_boxed, threads, rl):
    """(full map to dm_resolution, P(molecule)) (ALGORITHM.md section 4)."""
    with rl.step("solvent mask"):
        resolution = res["used"]
        avg = O1 + O2
        avg *= keep
        avg *= np.float32(0.5)
        rho_full = irfft(avg, shells.shape, threads, overwrite=True)
        del avg
        if mask_map is not None:
            mb = boxing.cut(mask_map, box) if box is not None else mask_map
            p_molecule = mask_from_file(mb, shells, resolution, threads)
            rl("molecule region from the mask file")
        else:
            avg = O1 + O2
            avg *= 0.5
            signal = signal_estimate(avg, res["half_fsc"], shells, threads, overwrite=True)
            del avg
            lrms = local_rms(signal, shells, MASK_RADIUS_RATIO * resolution, threads,
                             overwrite=True)
            del signal
            p_molecule = probabilistic_mask(lrms, f_boxed, overwrite=True, threads=threads)
            del lrms
            rl(f"probabilistic molecule mask from local rms (radius "
               f"{MASK_RADIUS_RATIO * resolution:.1f} A), mean P(molecule) "
               f"{p_molecule.mean():.3f}")
    return rho_full, p_molecule


# Shared noise: the solvent-region FSC of independent half maps is 0 +- 1/sqrt(N); above
# this fraction (and 4 sigma) the half maps share noise; above REFUSE they are one map.
SHARED_NOISE_WARN, SHARED_NOISE_REFUSE = 0.05, 0.9


def _independence_step(half_fsc, paths, box, near_molecule, shells, threads, rl):
    """Shared-noise evidence (:func:`shared_noise`) from the half maps ``paths``, read again
    (and cut to ``box``)."""
    with rl.step("independence of the half maps"):
        h = [mapio.read_map(p)[0] for p in paths]
        if box is not None:
            h = [boxing.cut(m, box) for m in h]
        e = shared_noise(half_fsc, h[0], h[1], near_molecule, shells, threads)
        del h
        shared, sigma = e["shared"], e["sigma"]
        rl(f"half-map FSC over the outer third of the shells: {e['solvent']:.3f} in the "
           f"solvent far from the molecule, {e['whole']:.3f} over the whole box "
           f"(independent half maps: 0 +- {sigma:.3f} for both)")
        what = (f"the half maps are not independent: over the outer third of the shells, "
                f"where they hold mostly noise, their FSC is {e['whole']:.2f} over the box and "
                f"{e['solvent']:.2f} in the solvent far from the molecule (independent half "
                f"maps give 0 +- {sigma:.3f})")
        if shared > SHARED_NOISE_REFUSE:
            raise InputError(f"{what}; they are (nearly) the same map. Give the two half maps "
                             f"of a refinement, each reconstructed from its own half of the "
                             f"particles (not density-modified or filtered outputs)")
        independent = not shared > max(SHARED_NOISE_WARN, 4 * sigma)
        if not independent:
            rl.warn(f"{what}. Shared noise counts as signal: every resolution estimate here "
                    f"(before and after) is too optimistic. Were they made from overlapping "
                    f"particle sets, or are they outputs of another density modification?")
    return dict(e, independent=independent, explanation=what)


def shared_noise(half_fsc, b1, b2, near_molecule, shells: Shells, threads: int = 1) -> dict:
    """Evidence of noise shared by the half maps, over the outer third of the shells: their
    FSC in the solvent far from the molecule ("solvent") and over the whole box ("whole",
    from ``half_fsc``), and ``shared`` = the smaller of the two (sigma: 1/sqrt(N/2) of those
    shells).

    Shared noise raises both.  Either alone misleads: a map whose signal reaches Nyquist has
    a high whole-box FSC there; where the solvent is quiet (reconstructions) a tiny common
    artefact gives a high solvent FSC (0.30 on a reconstruction-like case with independent
    halves, whose whole-box FSC there was 0.01).  Far from the molecule: outside
    ``near_molecule``, its region dilated by about 2.5 x resolution
    (masking.final_solvent_mask)."""
    outer = shells.s >= shells.s[-1] * (2.0 / 3.0)
    n = shells.count[outer]
    mean_outer = lambda c: float(np.sum(c[outer] * n) / n.sum())  # noqa: E731
    sigma = float(1.0 / np.sqrt(n.sum() / 2.0))
    whole = mean_outer(np.asarray(half_fsc))
    w = (1.0 - near_molecule).astype(np.float32)
    if float(w.sum()) < 0.01 * w.size:  # no solvent far from the molecule
        return {"solvent": float("nan"), "whole": whole, "shared": whole, "sigma": sigma}
    F1 = masked_rfft(b1, w, threads)
    F2 = masked_rfft(b2, w, threads)
    del w
    solvent = mean_outer(fsc(F1, F2, shells, threads))
    return {"solvent": solvent, "whole": whole, "shared": min(solvent, whole), "sigma": sigma}


def _histogram_step(diff, shells, rho_full, p_molecule, resolution, threads, rl) -> tuple:
    """(solvent and molecule histograms, local noise scale s(x)) (ALGORITHM.md section 4);
    ``diff``: the difference of the half maps (to dm_resolution), divided by s(x) in place."""
    with rl.step("density histograms"):
        # Noise of one half map, filtered like the maps used in density modification:
        # var(rho1 - rho2) = 2 sigma_half^2; the noise is not stationary, so the maps are
        # normalised by its local level s(x) (1 in the molecule) and so is everything below.
        s_noise = noise_scale(diff, p_molecule, shells, MASK_RADIUS_RATIO * resolution,
                              threads)
        diff /= s_noise
        var_half = 0.5 * float(np.mean(diff * diff, dtype=np.float64))
        del diff
        w_s = 1.0 - p_molecule
        mu = float(np.sum(w_s * rho_full, dtype=np.float64) / max(np.sum(w_s), 1e-30))
        solvent_h, molecule_h = density_histograms(
            rho_full, p_molecule, added_noise_sd(var_half),
            solvent_values=normalise_noise(rho_full, s_noise, mu), threads=threads)
        rl(f"solvent histogram mean {solvent_h.mean():.3g} sd "
           f"{np.sqrt(solvent_h.variance()):.3g}; molecule mean {molecule_h.mean():.3g} sd "
           f"{np.sqrt(molecule_h.variance()):.3g}; half-map noise sd {np.sqrt(var_half):.3g}")
    return solvent_h, molecule_h, s_noise


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
    keep = lowpass(shells, dm_resolution, threads=threads)
    # R over the shells that carry signal (beyond the resolution the coefficients are mostly
    # noise and R tends to 1 whatever the map).
    r_select = shells.s_between(0.0, 1.0 / meta["resolution"]["used"], threads)
    C = O_i
    rms_i = shell_rms(O_i, shells, threads)
    ops = _symmetry_operators(meta, params)
    if ops:
        lower = np.array(meta["box"]["lower"] if meta["box"] else [0, 0, 0])
        start_boxed = np.asarray(meta["input_start_A"]) + lower * np.asarray(meta["voxel_size"])
        rl(f"symmetry: {len(ops)} operators averaged in the molecule region")
    sel = shells.s <= 1.0 / dm_resolution  # the shells the log's mean weights are over
    r_values = []
    o_moments = {}  # moments of O_i and O_j alone, the same in every cycle
    for cycle in range(1, params.cycles + 1):
        with rl.step(f"half map {which}: density modification cycle {cycle}/{params.cycles}"):
            D = None  # the last cycle's is kept, not every one's
            rho = irfft(C * keep, shape, threads, overwrite=True)
            target = symmetry.symmetry_target(rho, ops, p_molecule, meta["voxel_size"],
                                              start_boxed) if ops else None
            # map_phasing in two halves, the map let go before the second one's transform
            terms = likelihood_terms(rho, p_molecule, solvent, molecule, target, with_g=False,
                                     noise_scale=s_noise, threads=threads)
            del target, rho
            D = newton_step(C, terms, keep, threads, noise_scale=s_noise)
            del terms
            r = r_value(O_i, D, r_select)
            r_values.append(r)
            w = half_weights(O_i, O_j, D, shells, o_moments, threads)
            del C
            if cycle < params.cycles:
                # The next cycle starts from the recombined map brought back to the
                # original's shell amplitudes: the recombination weights act like an FSC
                # weighting, which the benchmark showed harms density modification's input.
                # (After the last cycle only D is kept: finish recombines.)
                C = w.apply(O_i, D, shells, threads)
                match_shell_rms(C, rms_i, shells, threads)
            rl(f"half map {which} cycle {cycle}: R-value {r:.3f}, mean weight of the "
               f"map-phasing coefficients {np.mean(w.w_d[sel]):.2f}, mean CC_ref "
               f"{np.mean(w.cc_ref[sel]):.3f}")
    np.save(state / f"D{which}.npy", D)
    result = {"r_values": r_values, "timings": rl.timings, "log": rl.lines}
    _write_json(state / f"half{which}.json", result)
    return result


# ---------------------------------------------------------------------------------------------
# Stage 2b (with a model): model-based density modification (core/models; ALGORITHM.md
# section 9).  Independent units: one (half map, copy) refinement each, then one composite
# per half map; finish recombines with the composites in place of the map-phasing maps.
# ---------------------------------------------------------------------------------------------
def _model_check_step(model, meta, state, rl) -> dict:
    """Read the model and check that it fits the map (InputError naming the file, offset and
    a hint for a frame/origin mix-up; a warning when it fits poorly)."""
    with rl.step("checking the model"):
        ctx = _ModelContext(state, meta, model_path=str(Path(model).resolve()))
        m = models.load_model(model, ctx.average_map(), ctx.voxel, ctx.start,
                              meta["resolution"]["used"], operators=ctx.operators,
                              name=str(model))
        for w in m.warnings:
            rl.warn(w)
        n_res = m.atoms.n_residues
        rl(f"model {model}: {m.atoms.n} atoms in {n_res} residues"
           + (f" (expanded by {len(ctx.operators)} symmetry operators)"
              if ctx.operators else "")
           + f"; {models.N_COPIES} randomised copies per half map will be refined, each "
             f"against its own half map only")
    return {"path": str(Path(model).resolve()), "copies": models.N_COPIES,
            "atoms": int(m.atoms.n), "residues": int(n_res)}


# Automatic models need side chains' worth of detail: beyond this the builder traces too
# little (ALGORITHM.md section 10; the manual recommends about 3.5 A or better).
AUTO_MODEL_MAX_RESOLUTION_A = 4.5


def _auto_model_step(meta, params, rl) -> dict | None:
    """Plan the automatic models, or say why there will be none (the standard result is
    then delivered)."""
    d = meta["resolution"]["used"]
    if d > AUTO_MODEL_MAX_RESOLUTION_A:
        rl.warn(f"density_modify_with_model: at {d:.2f} A the builder cannot trace a main "
                f"chain (needs {AUTO_MODEL_MAX_RESOLUTION_A} A or better); no models are "
                f"built and the standard result is delivered")
        return None
    n_res = models.building.residues_from_volume(meta["molecular_volume_A3"])
    n_ops = len(_symmetry_operators(meta, params))
    rl(f"density_modify_with_model: {models.N_BUILT} models per half map, each built into "
       f"its own variant of that half map's density-modified map (resolution cut-off, "
       f"sharpening, blurring) and refined against it; at most {n_res} residues each "
       f"(from the molecular volume)"
       + (f", built in one asymmetric unit ({n_res // n_ops} residues) and expanded by the "
          f"{n_ops} symmetry operators" if n_ops > 1 else ""))
    return {"auto": True, "copies": models.N_BUILT, "residues": n_res}


def model_units(state_dir) -> list:
    """The (half, copy) refinements of a run with a model ([] without one): independent units
    of work (Scipion steps or queue jobs), each run by :func:`refine_model`."""
    meta = _read_json(Path(state_dir) / "meta.json")
    if not meta.get("model"):
        return []
    return [(h, k) for h in (1, 2) for k in range(meta["model"]["copies"])]


class _ModelContext:
    """The boxed frame and maps that model refinement and the composite need."""

    def __init__(self, state: Path, meta: dict, model_path=None):
        self.state, self.meta = Path(state), meta
        self.model_path = model_path or (meta.get("model") or {}).get("path")
        self.voxel = np.asarray(meta["voxel_size"])
        self.shape = tuple(meta["boxed_shape"])
        lower = np.array(meta["box"]["lower"] if meta["box"] else [0, 0, 0])
        self.start = np.asarray(meta["input_start_A"]) + lower * self.voxel
        self.shells = Shells.for_box(self.shape, self.voxel)
        self.params = DensityModificationParams.from_dict(meta["parameters"])

    def load(self, name):
        return np.load(self.state / f"{name}.npy")

    @functools.cached_property
    def operators(self) -> list:
        """The run's symmetry operators, read once per context (not once per model)."""
        return _symmetry_operators(self.meta, self.params)

    @property
    def auto(self) -> bool:
        return bool((self.meta.get("model") or {}).get("auto"))

    def model(self):
        """The model as checked at the start (symmetry-expanded), without the map check."""
        st = models.structure.read_structure(self.model_path)
        ops = self.operators
        if ops:
            st = models.structure.expand_symmetry(st, ops)
        return models.Model(st, models.structure.atoms_of(st), self.model_path, [])

    def average_map(self) -> np.ndarray:
        return irfft(0.5 * (self.load("O1") + self.load("O2")), self.shape)

    def standard_half(self, half: int):
        """(spectrum, Weights) of half ``half``'s density-modified half map from stage 2: its
        own O and D recombined with per-half weights (per-shell scalars of the other half)."""
        O_i, O_j = self.load(f"O{half}"), self.load(f"O{3 - half}")
        D_i = self.load(f"D{half}")
        w = half_weights(O_i, O_j, D_i, self.shells, threads=self.params.threads)
        return w.apply(O_i, D_i, self.shells, self.params.threads), w

    def copy_path(self, half: int, copy: int) -> Path:
        """Where copy ``copy`` of half ``half`` is kept: mmCIF for built models (each its own
        atoms), coordinates and occupancies alone (.npz) for copies of the given model."""
        return self.state / f"model_half{half}_copy{copy}.{'cif' if self.auto else 'npz'}"

    def copies(self, half: int) -> tuple:
        """(Model, [RefinedCopy]) of half ``half``.  Built models each have their own atoms:
        the Model then carries one Structure per copy."""
        paths = [self.copy_path(half, k) for k in range(self.meta["model"]["copies"])]
        if not self.auto:
            model = self.model()
            return model, [models.load_copy(p, model) for p in paths]
        structures, copies = [], []
        for p in paths:
            if p.exists():
                st = models.structure.read_structure(p)
                m = models.Model(st, models.structure.atoms_of(st), str(p), [])
                structures.append(st)
                copies.append(models.load_copy(p, m))
        if len(copies) < 3:
            raise InputError(f"density_modify_with_model: only {len(copies)} of half map "
                             f"{half}'s variants gave a model (3 are needed); the map does "
                             f"not support automatic building - run without it")
        return models.Model(structures, None, f"built models of half map {half}", []), copies


def refine_model(state_dir, half: int, copy: int, log=print, threads=None) -> dict:
    """One randomised copy of the model refined against half map ``half`` ALONE (its
    density-modified half map from stage 2); written to the state directory.  ``threads``
    overrides the run's FFT threads (units side by side use one each)."""
    return refine_models(state_dir, half, [copy], log=log, threads=threads)[0]


def refine_models(state_dir, half: int, copies, log=print, threads=None) -> list:
    """Copies ``copies`` of half map ``half``, one after the other, as :func:`refine_model`
    does each (same results, copy by copy), but the state, the half map, the model, its
    restraints and the refinement map are read and prepared once for all of them."""
    ctx = _ModelContext(state_dir, _read_json(Path(state_dir) / "meta.json"))
    if not ctx.meta.get("model"):
        # A step planned before prepare decided against models (e.g. resolution too poor
        # for the builder): nothing to do, and it says so.
        for copy in copies:
            _write_json(ctx.copy_path(half, copy).with_suffix(".json"),
                        {"skipped": "no models in this run"})
        return [{} for _ in copies]
    if threads is not None:
        ctx.params = dataclasses.replace(ctx.params, nproc=threads)
    C, _ = ctx.standard_half(half)
    half_map = irfft(C, ctx.shape)
    resolution = ctx.meta["resolution"]["used"]
    rmap = models.prepare_map(half_map, ctx.voxel, ctx.start, resolution,
                              threads=ctx.params.threads)
    fixed = None if ctx.auto else ctx.model()
    fixed_cache = None if fixed is None else models.refinement_cache(fixed, rmap)
    out = []
    for copy in copies:
        rl = RunLog(log)
        with rl.step(f"half map {half}: model {copy + 1}/{ctx.meta['model']['copies']}"):
            built = None
            if ctx.auto:
                model, built = _build_model(ctx, C, copy, rl)
                if model is None:
                    _write_json(ctx.copy_path(half, copy).with_suffix(".json"),
                                {"skipped": "the builder found no chain"})
                    out.append({})
                    continue
                cache = models.refinement_cache(model, rmap)
            else:
                model, cache = fixed, fixed_cache
            c = models.refine_one(model, half_map, ctx.voxel, ctx.start, resolution, half,
                                  copy, threads=ctx.params.threads, _cache=cache)
            if built is not None:
                c.figures["built"] = built
            models.save_copy(ctx.copy_path(half, copy), model, c)
            f = c.figures
            rl(f"half map {half} model {copy + 1}: map correlation "
               f"{f['map_correlation']:.3f}, rmsd from start {f['rmsd_from_start_A']:.2f} A, "
               f"bond rmsd {f['bond_rmsd_A']:.3f} A, {f['seconds']:.1f} s")
        out.append(c.figures)
    return out


# Variants of a half map that the builder traces (reference: "changing the resolution
# cutoff, spectral_scaling, and blurring of the map"): (cut-off / resolution, B in A^2; a
# negative B sharpens).
AUTO_MODEL_VARIANTS = [(1.0, 0.0), (1.0, 20.0), (1.1, -10.0), (1.1, 10.0), (1.0, -20.0),
                       (1.2, 0.0), (0.9, 10.0), (1.1, 30.0)]


def _build_model(ctx: _ModelContext, C, copy: int, rl):
    """(Model, build figures) of model ``copy`` of a half map: built into variant ``copy``
    of its density-modified half map (spectrum C); Model None when the variant supports no
    chain."""
    cut, b = AUTO_MODEL_VARIANTS[copy % len(AUTO_MODEL_VARIANTS)]
    d = ctx.meta["resolution"]["used"]
    variant = irfft(C * lowpass(ctx.shells, max(cut * d, 2.0 * float(ctx.voxel.max())))
                    * ctx.shells.expand(b_factor_scale(ctx.shells, b)), ctx.shape)
    ops = ctx.operators
    n_res, region = ctx.meta["model"]["residues"], None
    if len(ops) > 1:
        # "If symmetry file supplied, build only the unique part of the model": one
        # asymmetric unit of this variant (its own half's data only), then expanded.
        n_res //= len(ops)
        region = symmetry.asymmetric_unit(
            models.building.prepare_map(variant, ctx.voxel, d), ctx.voxel, ctx.start, ops)
    st, figures = models.building.build_model(variant, ctx.voxel, ctx.start, d,
                                              n_residues_max=n_res, seed=copy,
                                              pseudo_atoms=False, region=region)
    if len(ops) > 1:
        st = models.structure.expand_symmetry(st, ops)
        figures["symmetry_copies"] = len(ops)
    rl(f"built model {copy + 1} (cut-off {cut * d:.2f} A, B {b:+.0f} A^2): "
       f"{figures['residues']} residues in {figures['fragments']} fragments"
       + (f" in the unique part, expanded to {len(ops)} copies" if len(ops) > 1 else ""))
    if figures["residues"] < 4:
        rl.warn(f"model {copy + 1}: the builder found no chain in this variant; skipped")
        return None, figures
    return (models.Model(st, models.structure.atoms_of(st), f"built model {copy + 1}", []),
            figures)


def model_half(state_dir, half: int, log=print, threads=None) -> dict:
    """Half ``half``'s composite: its density-modified half map moved toward the mean of its
    own refined models, per shell by weights estimated against the OTHER original half map,
    locally by model agreement (models.model_half_map); saved as ``Dm<half>.npy``.
    ``threads`` overrides the run's FFT threads (the two halves side by side use one each)."""
    ctx = _ModelContext(state_dir, _read_json(Path(state_dir) / "meta.json"))
    if not ctx.meta.get("model"):
        _write_json(ctx.state / f"model_half{half}.json", {"skipped": "no models in this run"})
        return {}
    if threads is not None:
        ctx.params = dataclasses.replace(ctx.params, nproc=threads)
    rl = RunLog(log)
    with rl.step(f"half map {half}: model target and composite"):
        model, copies = ctx.copies(half)
        C, w = ctx.standard_half(half)
        keep = lowpass(ctx.shells, ctx.meta["resolution"]["dm_resolution"])
        Dm, target, stats = models.model_half_map(
            model, copies, C, ctx.shape, ctx.load("O1"), ctx.load("O2"), half, w.cc_ref,
            ctx.voxel, ctx.start, ctx.meta["resolution"]["used"], keep,
            threads=ctx.params.threads)
        np.save(ctx.state / f"Dm{half}.npy", Dm)
        # finish's map-model FSC needs this mean again: saved rather than recomputed.
        np.save(ctx.state / f"model_mean{half}.npy", target.model_mean)
        figures = {"target": target.figures, "copies": [c.figures for c in copies]}
        rl(f"half map {half}: model target from {len(copies)} models over "
           f"{100 * target.figures['region_fraction']:.0f}% of the box")
        _write_json(ctx.state / f"model_half{half}.json", dict(figures, log=rl.lines,
                                                               timings=rl.timings))
    return figures


# ---------------------------------------------------------------------------------------------
# Stage 3
# ---------------------------------------------------------------------------------------------
def finish(state_dir, log=print) -> dict:
    """Recombine the four maps, apply the final options, write the outputs and report on
    what was written.

    Every option that changes the delivered map is applied to each half map as well (from
    that half's own maps plus per-shell or smoothed per-region quantities), and the delivered
    full map is the average of the delivered half maps; so the resolution "after", the FSC
    curves and the verdict are computed on what is delivered, from independent comparisons
    of each delivered half map with the OTHER original half map.
    """
    state = Path(state_dir)
    st = _FinishState.read(state)
    rl = RunLog(log)
    # The state was made from the inputs as they were at the start; finish reads them again
    # (checked while the recombination goes on, collected before they are read).
    unchanged = checks.in_background(checks.check_inputs_unchanged, st.meta["inputs"],
                                     st.meta["input_sha256"])
    standard = st
    if st.meta.get("model"):
        # The model-based composites take the place of the map-phasing maps.
        st = dataclasses.replace(st, D1=st.load("Dm1"), D2=st.load("Dm2"))
    rec = _recombination_step(st, rl)
    halves, notes = _delivered_half_spectra(st, rec, rl)
    if st.O_full is None:  # the map-phasing spectra are in the delivered halves now
        st.D1 = st.D2 = None
    model_amplitude = _model_amplitude_step(st, rl)
    maps, fs, local_res = _final_maps(st, rec, halves, rl, model_amplitude)
    # From here on only per-shell figures and the maps: let the spectra go (16-28 bytes per
    # voxel of the analysed box) before the input maps are read again and assessed.
    del halves
    rec.release()
    st.release_spectra()
    unchanged.result()  # before the inputs are read again
    tmp, written = _write_maps_step(st, rec, maps, fs, local_res, rl)
    del maps, local_res
    for name in ("denmod_map", "initial_map"):  # the assessment needs the halves only
        written.pop(name, None)
    assessment = _assessment_step(st, written, notes, rl)
    results = _results(st, rec, assessment, tmp, rl)
    results["final_sharpening"] = {
        "method": "standard" if model_amplitude is None else "model-based",
        "scale": np.asarray(fs).tolist(),
        "model_amplitude": None if model_amplitude is None else model_amplitude.tolist()}
    if st.meta.get("model"):
        results["model"] = _model_outputs_step(st, standard, written, tmp, rl)
        results["outputs"] = {k: OUTPUTS[k] for k in list(tmp) + ["results", "log"]}
    _publish(st, tmp, results, rl)
    return results


def _model_outputs_step(st: _FinishState, standard: _FinishState, written, tmp, rl) -> dict:
    """With a model: the standard (model-free) map beside the model-based one, the composite
    model, and map-model FSC of the refined models against the ORIGINAL half maps."""
    with rl.step("model-free map for comparison"):
        rec = recombine(standard.O1, standard.O2, standard.D1, standard.D2, standard.shells,
                        full_map=standard.O_full, threads=standard.params.threads)
        halves, _ = _delivered_half_spectra(standard, rec, RunLog(None))
        maps, fs, local_res = _final_maps(standard, rec, halves, RunLog(None))
        extra, _ = _write_maps_step(standard, rec, maps, fs, None, RunLog(None),
                                    names=("denmod_map",),
                                    rename={"denmod_map": "denmod_map_no_model"})
        tmp.update(extra)
        v = verdict_from_run(written["original_half_map_1"], written["original_half_map_2"],
                             maps["denmod_half_map_1"], maps["denmod_half_map_2"],
                             st.meta["voxel_size"], st.meta, st.params.threads, st.shells,
                             st.molecule_envelope)
        rl(f"model-free density modification (denmod_map_no_model.mrc, consult it for any "
           f"specific density): {v.whole.resolution_full_after:.2f} A whole box, "
           f"{v.inside.resolution_full_after:.2f} A inside the molecule")
    with rl.step("composite model"):
        ctx = _ModelContext(st.dir, st.meta)
        n = st.meta["model"]["copies"]
        pairs = {h: ctx.copies(h) for h in (1, 2)}
        if ctx.auto:
            # Built models share no atoms: the one that fits its half map best stands for
            # them (a mean over different traces would mean nothing).
            best = max(((m_st, c) for h in (1, 2) for m_st, c in
                        zip(pairs[h][0].structure, pairs[h][1])),
                       key=lambda sc: sc[1].figures.get("map_correlation", 0))
            composite = models.structure.with_coordinates(best[0], best[1].xyz,
                                                          occ=best[1].occ)
            models.structure.write_structure(composite, st.dir / "out_composite_model.cif")
        else:
            composite = models.composite_model(pairs[1][0], pairs[1][1] + pairs[2][1],
                                               st.dir / "out_composite_model.cif")
        fsc_figures = _map_model_fsc(ctx, composite, written)
        tmp["composite_model"] = st.dir / "out_composite_model.cif"
        for line in fsc_figures.pop("log"):
            rl(line)
    halves = [_read_json(st.dir / f"model_half{h}.json") for h in (1, 2)]
    return {"path": st.meta["model"].get("path"), "automatic": ctx.auto,
            "copies_per_half": n,
            "no_model": {"after_corrected": v.whole.resolution_full_after,
                         "after_envelope": v.inside.resolution_full_after,
                         "verdict": v.verdict},
            "map_model_fsc": fsc_figures,
            "refinement": {f"half_map_{h}": halves[h - 1]["copies"] for h in (1, 2)},
            "target": {f"half_map_{h}": halves[h - 1]["target"] for h in (1, 2)},
            "target_applied": "near the models only (at least 3 models with density), "
                              "per shell by weights estimated against the other original "
                              "half map"}


def _map_model_fsc(ctx, composite, written) -> dict:
    """Map-model FSC = 0.5 (A) in the analysed box: the mean density of the models of half h
    (saved by model_half) against the OTHER original half map (the honest figure: those
    models never saw it) and against their own (inflated by fitting its noise), and the
    composite model against each."""
    from .model_map import model_density
    F = {h: rfft(written[f"original_half_map_{h}"]) for h in (1, 2)}

    def at_half(M, h):
        return resolution_at(fsc(M, F[h], ctx.shells, ctx.params.threads), ctx.shells, 0.5)

    out, lines = {}, []
    for h in (1, 2):
        M = rfft(np.load(ctx.state / f"model_mean{h}.npy"))
        other, own = at_half(M, 3 - h), at_half(M, h)
        out[f"models_of_half_{h}_vs_other_half"] = other
        out[f"models_of_half_{h}_vs_own_half"] = own
        lines.append(f"models of half map {h}: map-model FSC = 0.5 at {other:.2f} A against "
                     f"the other (independent) half map, {own:.2f} A against their own")
    M = rfft(model_density(composite, ctx.shape, ctx.voxel, ctx.start))
    for h in (1, 2):
        out[f"composite_vs_half_{h}"] = at_half(M, h)
    out["log"] = lines
    return out


@dataclass
class _FinishState:
    """What finish reads from the state directory."""

    dir: Path
    meta: dict
    params: DensityModificationParams
    shells: Shells
    halves: list          # the per-half json of modify_half
    O1: np.ndarray
    O2: np.ndarray
    D1: np.ndarray
    D2: np.ndarray
    O_full: np.ndarray | None

    @classmethod
    def read(cls, state: Path) -> "_FinishState":
        meta = _read_json(state / "meta.json")
        load = lambda name: np.load(state / f"{name}.npy")  # noqa: E731
        return cls(state, meta, DensityModificationParams.from_dict(meta["parameters"]),
                   Shells.for_box(tuple(meta["boxed_shape"]), meta["voxel_size"]),
                   [_read_json(state / f"half{i}.json") for i in (1, 2)],
                   load("O1"), load("O2"), load("D1"), load("D2"),
                   load("O_full") if (state / "O_full.npy").exists() else None)

    def release_spectra(self) -> None:
        """Forget O1, O2, D1, D2 and the full map's spectrum (finish is done with them)."""
        self.O1 = self.O2 = self.D1 = self.D2 = self.O_full = None

    def load(self, name) -> np.ndarray:
        """One more array of the state directory."""
        return np.load(self.dir / f"{name}.npy")

    @functools.cached_property
    def molecule_envelope(self) -> np.ndarray:
        """The assessment's molecular envelope, made by prepare (read once)."""
        return self.load("molecule_envelope")

    @property
    def shape(self):
        return self.shells.shape

    @property
    def resolution(self) -> float:
        return self.meta["resolution"]["used"]


def _recombination_step(st: _FinishState, rl):
    with rl.step("error model and recombination"):
        rec = recombine(st.O1, st.O2, st.D1, st.D2, st.shells, full_map=st.O_full,
                        threads=st.params.threads)
        if st.O_full is None:
            rec.release()  # only its weights are used below
        rl("recombined the four maps (ALGORITHM.md section 6); the delivered half maps use "
           "the joint weights, so that the delivered map is exactly their average")
    return rec


def _delivered_half_spectra(st: _FinishState, rec, rl) -> tuple:
    """The two delivered half maps before final scaling (spectra), and notes on figures an
    option is not covered by."""
    p, threads = st.params, st.params.threads
    H = [rec.full.apply(O, D, st.shells, threads) for O, D in ((st.O1, st.D1), (st.O2, st.D2))]
    notes = []
    if p.sigma_weighting:
        with rl.step("sigma weighting"):
            H = [h * sigma_weights(O, D, rec.a, rec.var_s, st.shells)
                 for h, O, D in zip(H, (st.O1, st.O2), (st.D1, st.D2))]
            rl("sigma weighting: each half map's coefficients weighted by the agreement of "
               "its own original and map-phasing estimates")
    if p.real_space_weighting:
        with rl.step("real-space weighting"):
            H = real_space_weighting(H, (st.O1, st.O2), rec.var_s, st.shells,
                                     MASK_RADIUS_RATIO * st.resolution, threads)
            rl("real-space weighting: recombined and original half maps mixed by their "
               "local noise (weights from smoothed half-map differences, the same for both "
               "halves)")
    if st.O_full is not None:
        notes.append("the delivered full map recombines the given full map; the resolution "
                     "after and the verdict describe the average of the delivered half maps, "
                     "made the same way from the half maps")
    return H, notes


def _model_amplitude_step(st: _FinishState, rl) -> np.ndarray | None:
    """With model_sharpening and models: the models' shell amplitudes A_M(s)
    (models.sharpening); None otherwise (said in the log when asked for without models)."""
    if not st.params.model_sharpening:
        return None
    if not st.meta.get("model"):
        rl("model_sharpening: no models in this run (the automatic models were not "
           "built); the standard final sharpening was applied")
        return None
    with rl.step("model-based sharpening"):
        ctx = _ModelContext(st.dir, st.meta)
        structures, copies = [], []
        for h in (1, 2):
            model, cs = ctx.copies(h)
            s = model.structure
            structures += list(s) if isinstance(s, (list, tuple)) else [s] * len(cs)
            copies += cs
        amp = models.sharpening.model_shell_amplitude(structures, copies, st.shells,
                                                      ctx.voxel, ctx.start,
                                                      threads=st.params.threads)
        rl(f"model-based sharpening: final shell amplitudes set to CC_ref x the shell "
           f"amplitudes of the {len(copies)} refined models' density (B "
           f"{models.ensemble.B_ATOM:g} A^2 for every atom), anchored at "
           f"{models.sharpening.ANCHOR_A:g} A; the same scale for both half maps")
    return amp


def _final_maps(st: _FinishState, rec, H, rl, model_amplitude=None) -> tuple:
    """Boxed real-space maps {name: map}, the per-shell final scale, the local resolution.
    ``model_amplitude`` (per shell, A_M of models.sharpening): model-based final scaling."""
    p, shells, threads = st.params, st.shells, st.params.threads
    with rl.step("final scaling"):
        # The half-map sharpening whitened the low-resolution shells for density
        # modification; the delivered maps get the molecule's own low-resolution shape back.
        unwhiten = _unwhiten(st)
        for h in H:  # in place: the caller's list holds the same spectra
            h *= unwhiten
        F = 0.5 * (H[0] + H[1]) if st.O_full is None else _full_map_spectrum(st, rec, H)
        level = shell_rms(0.5 * (st.O1 + st.O2), shells, threads)
        low = (shells.s > 0) & (shells.s < 1 / 8.0)
        target = b_factor_scale(shells, st.meta["b_iso"]) * (
            np.mean(level[low]) if low.any() else 1.0)
        fs = final_scale(shell_rms(F, shells, threads), rec.full.cc_ref, target, shells,
                         final_scale_with_fsc_ref=p.final_scale_with_fsc_ref,
                         geometric_scaling=p.geometric_scaling,
                         spectral_profile=spectral_profile(shells) if p.spectral_scaling
                         else None)
        # Held below 8 A like the sharpening: keep the molecule's low-resolution shape.
        fs = hold_low_resolution(fs, shells)
        if model_amplitude is not None:
            fs = models.sharpening.model_final_scale(
                shell_rms(F, shells, threads), rec.full.cc_ref, model_amplitude, fs, shells,
                final_scale_with_fsc_ref=p.final_scale_with_fsc_ref)
        if p.blur_by_resolution:
            fs = fs * b_factor_scale(shells, 2.0 * st.resolution)
        scale = shells.expand(fs)
        # Without a full map the delivered map is the halves' average (below): its own
        # spectrum is not transformed.
        spectra = {"denmod_half_map_1": H[0], "denmod_half_map_2": H[1]}
        if st.O_full is not None:
            spectra["denmod_map"] = F
        del F
        H.clear()  # the caller's list too: ``spectra`` is the only holder now
    local_res = None
    if p.local_sharpening:
        with rl.step("local sharpening"):
            sharpened, local_res = local_weighting([v * scale for v in spectra.values()],
                                                   st.O1, st.O2, shells, st.resolution,
                                                   threads)
            maps = dict(zip(spectra, sharpened))
            rl("local sharpening: each resolution band weighted by the local half-map "
               f"correlation, the same weights for both halves (median local resolution "
               f"{np.median(local_res):.2f} A)")
    else:
        # One at a time, in place: the delivered spectra are not needed after this.
        maps = {}
        for k in list(spectra):
            v = spectra.pop(k)
            v *= scale
            maps[k] = irfft(v, st.shape, threads, overwrite=True)
            del v
    del spectra, scale
    if st.O_full is None:
        # Exactly the average of the delivered halves (the FFTs agree to rounding).
        avg = maps["denmod_half_map_1"] + maps["denmod_half_map_2"]
        avg *= np.float32(0.5)
        maps["denmod_map"] = avg
    # The map before density modification, sharpened as a user would look at it:
    # FSC_ref-weighted half-map average.
    cc_before = fsc_ref(st.load("half_fsc"))
    avg = st.O1 + st.O2
    avg *= np.float32(0.5)
    for sl, e in shells.expand_slabs(cc_before):  # = avg *= expand(cc_before) * unwhiten
        avg[sl] *= e * unwhiten[sl]
    del unwhiten
    maps["initial_map"] = irfft(avg, st.shape, threads, overwrite=True)
    return maps, fs, local_res


def _unwhiten(st: _FinishState) -> np.ndarray:
    """Factor (half spectrum) that turns the half-map sharpening into one held constant below
    8 A (sharpening.hold_low_resolution)."""
    scale = st.load("sharpen_scale")
    out = np.empty(st.shells.index.shape, np.float32)
    for sl, held, own in st.shells.expand_slabs(hold_low_resolution(scale, st.shells), scale):
        np.divide(held, np.maximum(own, np.float32(1e-30)), out=out[sl])
    return out


def _full_map_spectrum(st: _FinishState, rec, H) -> np.ndarray:
    """With a full map: its recombination with the map-phasing maps, scaled like the halves'
    average by the options applied to them (per shell)."""
    F = rec.F
    base = 0.5 * (rec.full.apply(st.O1, st.D1, st.shells) +
                  rec.full.apply(st.O2, st.D2, st.shells))
    ratio = shell_rms(0.5 * (H[0] + H[1]), st.shells) / np.maximum(shell_rms(base, st.shells),
                                                                    1e-30)
    return F * st.shells.expand(ratio)


MAP_OUTPUTS = ("denmod_map", "initial_map", "denmod_half_map_1", "denmod_half_map_2")


def _write_maps_step(st: _FinishState, rec, maps, fs, local_res, rl, names=MAP_OUTPUTS,
                     rename=None) -> tuple:
    """Write the maps into the input box (temporary names in the state directory); ``rename``
    ({name: output name}) writes a map under another output's name.

    Returns ({name: temporary path}, {name: boxed array as written}) - the latter, cut back
    to the analysed box, is what the assessment compares, exactly as ``resolvecryoem
    verdict`` would from the files: the original and delivered half maps only.  The maps
    written are taken out of ``maps`` (each let go once written).
    """
    meta, shells, threads = st.meta, st.shells, st.params.threads
    tmp, written = {}, {}
    with rl.step("writing maps in the input box"):
        box = None if meta["box"] is None else boxing.Box.from_dict(meta["box"],
                                                                   meta["input_shape"])
        _, info = mapio.read_map(meta["inputs"]["half_map_1"], header_only=True)
        if st.params.voxel_size is not None:
            info = mapio.with_voxel_size(info, st.params.voxel_size)
        # Without a box the input maps are needed only for the assessment: read after the
        # outputs are written and let go.
        h = [mapio.read_map(meta["inputs"][f"half_map_{i}"])[0] for i in (1, 2)] if box \
            else None
        # Outside the analysed box there is no density modification: the input is treated
        # like the original-map part of the inside, i.e. filtered by the same per-shell
        # chain sharpening x weight of the original x final scale (where the recombination
        # relied on the flattened map, the unflattened outside is weighted down with it).
        sharpen = hold_low_resolution(st.load("sharpen_scale"), shells)
        outside = sharpen * rec.full.w_o * fs
        filters = {"denmod_map": (outside, "avg"), "initial_map":
                   (sharpen * fsc_ref(st.load("half_fsc")), "avg"),
                   "denmod_half_map_1": (outside, 1), "denmod_half_map_2": (outside, 2)}
        if box:
            big_shells = Shells.for_box(h[0].shape, info.voxel_size)
            spectra = {"avg": rfft(0.5 * (h[0] + h[1]), threads)}
        flat = None
        if st.params.final_solvent_flattening:
            m = st.load("final_solvent_mask")  # made by prepare
            flat = boxing.paste(m, np.zeros(h[0].shape, np.float32), box) if box else m
            rl(f"solvent of the final maps flattened outside a soft mask (molecule region "
               f"dilated by about {2.5 * st.resolution:.1f} A; {m.mean():.2f} of the analysed "
               f"box), the same for both half maps")
        for name in names:
            boxed_map = maps.pop(name)
            if box:
                t, which = filters[name]
                if which not in spectra:
                    # One whole-box spectrum at a time: the maps come in the order of the
                    # spectra they use (the average's, then each half's).
                    spectra.clear()
                    spectra[which] = rfft(h[which - 1], threads)
                outside = np.empty(spectra[which].shape, np.complex64)
                for sl in big_shells.slabs():  # the filter a slab at a time
                    ti = np.interp(big_shells.s_slab(sl), shells.s, t).astype(np.float32)
                    np.multiply(spectra[which][sl], ti, out=outside[sl])
                del ti
                full_map = boxing.paste(boxed_map, irfft(outside, h[0].shape, threads,
                                                         overwrite=True), box)
                del outside
            else:
                full_map = boxed_map
            if flat is not None and name != "initial_map":
                # The same mask for both halves and their average: still a map of each
                # half's own data, and the delivered map is still their average.
                full_map = flatten_solvent(full_map, flat, threads)
            del boxed_map
            if name in ("denmod_half_map_1", "denmod_half_map_2"):
                written[name] = boxing.cut(full_map, box) if box else full_map
            key = (rename or {}).get(name, name)
            tmp[key] = st.dir / ("out_" + OUTPUTS[key])
            mapio.write_map(tmp[key], full_map.astype(np.float32, copy=False), info)
            del full_map
        if box:
            del spectra
        else:
            h = [mapio.read_map(meta["inputs"][f"half_map_{i}"])[0] for i in (1, 2)]
        written["original_half_map_1"] = boxing.cut(h[0], box) if box else h[0]
        written["original_half_map_2"] = boxing.cut(h[1], box) if box else h[1]
        if local_res is not None:
            # Outside the analysed box there is no local estimate: the overall resolution.
            res_map = boxing.paste(local_res, np.full(h[0].shape, st.resolution, np.float32),
                                   box) if box else local_res
            tmp["local_resolution"] = st.dir / "out_local_resolution.mrc"
            mapio.write_map(tmp["local_resolution"], res_map, info)
    return tmp, written


def _assessment_step(st: _FinishState, written, notes, rl) -> dict:
    """Resolution after, FSC curves and verdict of the DELIVERED maps, from independent
    comparisons (validation.verdict_from_run, the same code as ``resolvecryoem verdict``)."""
    with rl.step("assessing the delivered maps"):
        v = verdict_from_run(written["original_half_map_1"], written["original_half_map_2"],
                             written["denmod_half_map_1"], written["denmod_half_map_2"],
                             st.meta["voxel_size"], st.meta, st.params.threads, st.shells,
                             st.molecule_envelope)
        w, i = v.whole, v.inside
        d_before = st.meta["resolution"]["half_map_fsc"]
        rl(f"resolution before {d_before:.2f} A (half-map FSC 0.143); delivered map "
           f"{w.resolution_full_after:.2f} A (CC with the truth 0.5, from each delivered half "
           f"map against the OTHER original half map), inside the molecule "
           f"{i.resolution_full_after:.2f} A (before {i.resolution_before:.2f} A)")
        rl(v.summary())
        for note in notes:
            rl(f"note: {note}")
        if v.verdict == SUSPECT:
            rl.warn(f"no figure of this run can be trusted: {v.reason}")
        elif v.verdict == MADE_WORSE or w.resolution_full_after > d_before + 0.05 or \
                (i.resolution_before is not None
                 and i.resolution_full_after > i.resolution_before + 0.05):
            rl.warn(f"the delivered map is WORSE than the half-map average "
                    f"({w.resolution_full_after:.2f} A against {d_before:.2f} A over the whole "
                    f"box, {i.resolution_full_after:.2f} A against {i.resolution_before:.2f} A "
                    f"inside the molecule; verdict: {v.verdict}). Use the half-map average "
                    f"or change the options")
        elif v.verdict != HELPED:
            rl(f"density modification did not clearly help: {v.reason}")
    return {"verdict": v, "notes": notes}


def _results(st: _FinishState, rec, assessment, tmp, rl) -> dict:
    meta, shells = st.meta, st.shells
    v = assessment["verdict"]
    w, i = v.whole, v.inside
    half_fsc = st.load("half_fsc")
    return dict(
        version=_version(),
        inputs={k: {"path": p, "sha256": meta["input_sha256"].get(k)}
                for k, p in meta["inputs"].items() if p is not None},
        parameters=meta["parameters"],
        box=meta["box"],
        voxel_size=meta["voxel_size"],
        molecular_volume_A3=meta["molecular_volume_A3"],
        solvent_fraction=meta["solvent_fraction"],
        resolution=dict(meta["resolution"], after_corrected=w.resolution_full_after,
                        after_cross=w.resolution_after,
                        before_envelope=i.resolution_before,
                        after_envelope=i.resolution_full_after,
                        definitions=RESOLUTION_DEFINITIONS),
        b_iso=meta["b_iso"],
        independence=meta["independence"],
        verdict={"verdict": v.verdict, "reason": v.reason, "summary": v.summary(),
                 "whole": w.verdict, "inside": i.verdict, "notes": assessment["notes"]},
        r_values={"definition": R_VALUE_DEFINITION,
                  "half_map_1": st.halves[0]["r_values"],
                  "half_map_2": st.halves[1]["r_values"]},
        fsc={"s": shells.s.tolist(), "n_coefficients": shells.count.tolist(),
             "half_maps_before": half_fsc.tolist(),
             "cc_ref_before": fsc_ref(half_fsc).tolist(),
             "cc_ref_after": w.cc_full_after.tolist(),
             "fsc_equivalent_after": fsc_from_cc(w.cc_full_after).tolist(),
             "cc_ref_after_envelope": i.cc_full_after.tolist(),
             "cc_ref_predicted": rec.full.cc_ref.tolist(),
             "denmod_half_1_vs_original_half_2": w.fsc_cross_1.tolist(),
             "denmod_half_2_vs_original_half_1": w.fsc_cross_2.tolist(),
             "fsc_equivalent_cross": w.fsc_equivalent_after.tolist(),
             "denmod_halves": w.fsc_modified_halves.tolist(),
             "shell_call": w.shell_call, "shell_call_envelope": i.shell_call,
             "weight_map_phasing": rec.full.w_d.tolist(),
             "weight_original": rec.full.w_o.tolist(),
             "signal_scale_map_phasing": rec.a.tolist()},
        histograms={"centres": st.load("hist_centres").tolist(),
                    "solvent": st.load("hist_solvent").tolist(),
                    "molecule": st.load("hist_molecule").tolist()},
        timings={**meta["timings"], **{k: t for hh in st.halves
                                       for k, t in hh["timings"].items()}, **rl.timings},
        warnings=meta["warnings"] + rl.warnings,
        outputs={k: OUTPUTS[k] for k in list(tmp) + ["results", "log"]},
    )


def _publish(st: _FinishState, tmp, results, rl):
    """results.json and the log next to the maps, then every output moved into place."""
    out = st.dir.parent
    rl(f"writing {', '.join(OUTPUTS[k] for k in list(tmp) + ['results', 'log'])} in {out}")
    log_text = "\n".join(st.meta["log"] + st.halves[0]["log"] + st.halves[1]["log"] +
                         rl.lines) + "\n"
    mapio.atomic_write_text(st.dir / "out_results.json", json.dumps(results, indent=1))
    mapio.atomic_write_text(st.dir / "out_log", log_text)
    tmp = dict(tmp, results=st.dir / "out_results.json", log=st.dir / "out_log")
    publish.publish(out, {OUTPUTS[name]: path for name, path in tmp.items()})
    shutil.rmtree(st.dir, ignore_errors=True)


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
        units = model_units(state)
        if units:
            run_units(refine_models, state, _refinement_jobs(units, params.threads),
                      params.threads, log)
            run_units(model_half, state, [(1,), (2,)], params.threads, log)
        return finish(state, log=log)
    except BaseException:
        abandon(state)
        raise


def _refinement_jobs(units, workers: int) -> list:
    """(half, [copies]) jobs from (half, copy) units: each half's copies in as few jobs as
    keep ``workers`` processes busy, so that each job reads the state and prepares its half
    map, model and restraints once (per copy that preparation cost as much as refining)."""
    jobs = []
    for half in sorted({h for h, _ in units}):
        copies = [k for h, k in units if h == half]
        n_jobs = max(1, min(len(copies), -(-workers // 2)))
        jobs += [(half, copies[j::n_jobs]) for j in range(n_jobs)]
    return jobs


def abandon(state_dir) -> None:
    """Remove the state of a run that failed or was interrupted after :func:`prepare`
    (temporary outputs included), and the output folder if the run created it and nothing
    else is in it.  Published outputs of an earlier run are not touched."""
    state = Path(state_dir)
    try:
        created = bool(_read_json(state / "meta.json").get("created_output_dir"))
    except (OSError, ValueError):
        created = False
    _remove_state(state, created)


def _remove_state(state: Path, created_out: bool) -> None:
    shutil.rmtree(state, ignore_errors=True)
    out = state.parent
    if created_out and out.is_dir() and not any(out.iterdir()):
        out.rmdir()


# ---------------------------------------------------------------------------------------------
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
