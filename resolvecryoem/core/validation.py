"""Tools that tell whether a map is really better: ``verdict`` and ``compare``.

verdict - from a finished run, whether density modification helped, from INDEPENDENT
comparisons only: each density-modified half map against the OTHER original half map, never
the modified halves against each other (they share the error that flattening introduces).
With O_i = S + n_i, FSC(O1, O2) estimates CC(O_i, S)^2 and FSC(C_i, O_j) estimates
CC(C_i, S) CC(O_j, S), so per shell

    CC(O, S) = sqrt(FSC(O1, O2)),   CC(C_i, S) = FSC(C_i, O_j) / sqrt(FSC(O1, O2)),

and the equivalent half-map FSC of the modified halves is CC(C1, S) CC(C2, S) =
FSC(C1, O2) FSC(C2, O1) / FSC(O1, O2), on the same scale as FSC(O1, O2) (0.143 means the same
before and after).  Shells where FSC(O1, O2) is below 2/sqrt(number of coefficients) carry no
measurable signal: they are reported as undecidable, never as gains.

compare - two maps brought to the same resolution dependence (matched sharpening, the
reference manual's external_map_sharpening idea), their map-map FSC and, with a model,
map-model FSC of each.  A model refined against one of the maps favours that map.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import boxing, mapio
from .checks import check_same_grid
from .errors import InputError
from .fourier import Shells, irfft, rfft
from .fsc import fsc, fsc_from_moments, moments, resolution_at
from .parallel import map_slabs
from .sharpening import lowpass, shell_rms

HELPED, NOT_HELPED, UNDECIDABLE = "helped", "did not help", "undecidable"
MADE_WORSE, SUSPECT = "made the map worse", "suspect"
# A verdict needs at least this many shells that pass (or fail) the test.
MIN_SHELLS = 2
# Shells whose cross-FSC exceeds what independent maps allow before the outputs are called
# not independent of the other half map.
MIN_SUSPECT_SHELLS = 3


@dataclass
class Evidence:
    """Shell-by-shell evidence in one region (whole box, or inside the molecular envelope).

    ``cc_full_after``: CC with the truth of the average of the two density-modified half maps,
    0.5 [cov(C1, O2) + cov(C2, O1)] / sqrt(var((C1 + C2) / 2) var S), var S = cov(O1, O2):
    every covariance pairs maps with independent noise, and whatever error the two modified
    halves share is in var((C1 + C2) / 2).  ``resolution_full_after`` is where it falls below
    0.5 (the CC_ref that half-map FSC 0.143 stands for, so it compares with
    ``resolution_before``)."""

    verdict: str
    reason: str
    resolution_before: float | None
    resolution_after: float | None
    resolution_full_after: float | None
    fsc_before: np.ndarray
    fsc_cross_1: np.ndarray
    fsc_cross_2: np.ndarray
    fsc_equivalent_after: np.ndarray
    cc_full_after: np.ndarray
    gain: np.ndarray          # CC(C, S) - CC(O, S) per shell
    sigma: np.ndarray         # noise of the gain per shell
    shell_call: list = field(default_factory=list)  # better/worse/same/undecidable/suspect
    # FSC(C1, C2): inflated by the error the modified halves share; shown, never used.
    fsc_modified_halves: np.ndarray | None = None

    def to_dict(self) -> dict:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                for k, v in self.__dict__.items()}


def shell_moments(spectrum, shells: Shells, threads: int = 1) -> dict:
    """The per-shell powers and covariances the evidence needs.  ``spectrum(name)`` makes the
    spectrum of "O1", "O2", "C1" or "C2", each once: the pairs O1-O2, C2-O1, C1-O2, C1-C2
    need three spectra held at once (with two, O1 had to be transformed twice).  The moments
    of the spectra held together are taken in one pass (fsc.moments), on ``threads``
    threads."""
    O1, O2 = spectrum("O1"), spectrum("O2")
    m = dict(zip(("O1", "O2", "O1O2"), moments([(O1, None), (O2, None), (O1, O2)], shells,
                                                threads)))
    C2 = spectrum("C2")
    m["C2"], m["C2O1"] = moments([(C2, None), (C2, O1)], shells, threads)
    del O1
    C1 = spectrum("C1")
    m["C1"], m["C1O2"], m["C1C2"] = moments([(C1, None), (C1, O2), (C1, C2)], shells, threads)
    return m


def evidence_from_moments(m: dict, shells: Shells, fraction: float = 1.0) -> Evidence:
    """Per-shell evidence from independent comparisons only, and the call it supports, from
    :func:`shell_moments`.  ``fraction``: the share of the
    box's independent coefficients that the maps carry (1; for maps multiplied by a mask,
    :func:`effective_fraction` of it), which widens the confidence margins of the
    independence bound (the gain's noise is measured from the two halves' gains)."""
    before = fsc_from_moments(m["O1O2"], m["O1"], m["O2"])
    x1 = fsc_from_moments(m["C1O2"], m["C1"], m["O2"])
    x2 = fsc_from_moments(m["C2O1"], m["C2"], m["O1"])
    modified_halves = fsc_from_moments(m["C1C2"], m["C1"], m["C2"])
    sig = shells.significance()
    decidable = before > sig
    decidable[0] = False
    root = np.sqrt(np.maximum(before, sig))
    cc_before = np.sqrt(np.clip(before, 0, 1))
    gains = np.stack([x1 - before, x2 - before]) / root
    gain = gains.mean(axis=0)
    # Noise of the gain: the two halves' gains differ only by noise; 1/sqrt(N) bounds it
    # from below (a correlation estimated from N/2 independent complex coefficients).
    sigma = np.maximum(np.abs(gains[0] - gains[1]) / 2.0, 0.5 * sig / root)
    # No map made without half map j can correlate with O_j better than the truth does:
    # FSC(C_i, O_j) = CC(C_i, S) CC(O_j, S) <= sqrt(FSC(O1, O2)).  Upper confidence bounds
    # on both sides, so noise alone does not trip it.
    sig_masked = sig / np.sqrt(min(max(fraction, 1e-3), 1.0))
    bound = np.sqrt(np.clip(before + sig_masked, 0, 1)) + sig_masked
    suspect = (np.maximum(x1, x2) > bound) & (np.arange(shells.n) > 0)
    calls = []
    for k in range(shells.n):
        if suspect[k]:
            calls.append("suspect")
        elif not decidable[k]:
            calls.append("undecidable")
        elif gain[k] > 2 * sigma[k]:
            calls.append("better")
        elif gain[k] < -2 * sigma[k]:
            calls.append("worse")
        else:
            calls.append("same")
    equivalent = np.clip(x1, 0, None) * np.clip(x2, 0, None) / np.maximum(before, sig)
    cc_full = cc_of_average_from_moments(m, shells)
    n_dec = int(decidable.sum())
    n_better, n_worse = calls.count("better"), calls.count("worse")
    n_suspect = int(suspect.sum())
    # Inverse-variance weights: the many coefficients of the noisy outer shells must not
    # outvote the shells where the gain is measured precisely.
    weights = decidable / np.maximum(sigma, 1e-6) ** 2
    mean_gain = float(np.sum(weights * gain) / max(weights.sum(), 1e-30))
    mean_cc = float(np.sum(weights * cc_before) / max(weights.sum(), 1e-30))
    if n_dec == 0:
        return Evidence(UNDECIDABLE, "no shell has half-map FSC above 2/sqrt(N): no signal, "
                        "so no resolution can be claimed", None, None, None, before, x1, x2,
                        equivalent, cc_full, gain, sigma, calls, modified_halves)
    d_before = resolution_at(before, shells, 0.143)
    d_after = resolution_at(equivalent, shells, 0.143)
    d_full = resolution_at(cc_full, shells, 0.5)
    counts = f"{n_better} of {n_dec} decidable shells better, {n_worse} worse"
    if n_suspect >= MIN_SUSPECT_SHELLS:
        v, why = SUSPECT, (f"in {n_suspect} shells the modified half maps correlate with the "
                           f"OTHER original half map more than any map made without it can "
                           f"(FSC(C_i, O_j) > sqrt(FSC(O1, O2))): they are not independent "
                           f"of it, and no figure from them can be trusted")
    elif n_better >= max(MIN_SHELLS, n_worse + 1) and d_after <= d_before + 1e-6:
        v, why = HELPED, f"{counts}; mean CC gain {mean_gain:+.3f} on {mean_cc:.3f}"
    elif n_worse >= max(MIN_SHELLS, n_better + 1) and d_after >= d_before - 1e-6:
        v, why = MADE_WORSE, f"{counts}; mean CC gain {mean_gain:+.3f}"
    else:
        v, why = NOT_HELPED, f"{counts}; mean CC gain {mean_gain:+.3f}"
    return Evidence(v, why, d_before, d_after, d_full, before, x1, x2, equivalent, cc_full,
                    gain, sigma, calls, modified_halves)


def cc_of_average_from_moments(m: dict, shells: Shells) -> np.ndarray:
    """Per-shell CC with the truth of (C1 + C2) / 2, each C_i made without O_j, from
    :func:`shell_moments`: 0.5 [cov(C1, O2) + cov(C2, O1)] / sqrt(var((C1 + C2) / 2) var S),
    var S = cov(O1, O2), floored at its noise level, 2/sqrt(N) of sqrt(var O1 var O2) (a ratio
    of noisy estimates must not climb where the signal is gone); var((C1 + C2) / 2) is
    (var C1 + var C2 + 2 cov(C1, C2)) / 4."""
    var_o = np.sqrt(m["O1"] * m["O2"])
    var_s = np.maximum(m["O1O2"], np.maximum(shells.significance() * var_o, 1e-30))
    cross = 0.5 * (m["C1O2"] + m["C2O1"])
    var_c = np.maximum(0.25 * (m["C1"] + m["C2"] + 2.0 * m["C1C2"]), 1e-30)
    cc = np.clip(cross / np.sqrt(var_c * var_s), 0, 1)
    cc[0] = 1.0
    return cc


@dataclass
class Verdict:
    """Did density modification help?  The overall call, and the evidence over the whole box
    and (when a molecular envelope is known) inside the molecule."""

    verdict: str
    reason: str
    s: np.ndarray
    whole: Evidence
    inside: Evidence | None = None

    # The whole-box figures, by their long-standing names.
    resolution_before = property(lambda self: self.whole.resolution_before)
    resolution_after = property(lambda self: self.whole.resolution_after)
    resolution_full_after = property(lambda self: self.whole.resolution_full_after)
    fsc_before = property(lambda self: self.whole.fsc_before)
    shell_call = property(lambda self: self.whole.shell_call)

    def table(self) -> str:
        e = self.whole
        lines = [f"{'d (A)':>8s} {'FSC(O1,O2)':>10s} {'FSC(C1,O2)':>10s} {'FSC(C2,O1)':>10s} "
                 f"{'CC gain':>8s} {'+-':>6s}  call" + ("  (inside)" if self.inside else "")]
        for k in range(1, len(self.s)):
            lines.append(f"{1 / self.s[k]:8.2f} {e.fsc_before[k]:10.3f} "
                         f"{e.fsc_cross_1[k]:10.3f} {e.fsc_cross_2[k]:10.3f} "
                         f"{e.gain[k]:8.3f} {e.sigma[k]:6.3f}  {e.shell_call[k]}" +
                         (f"  ({self.inside.shell_call[k]})" if self.inside else ""))
        return "\n".join(lines)

    def summary(self) -> str:
        parts = [f"verdict: density modification {self.verdict} ({self.reason})"]
        for name, e in (("whole box", self.whole), ("inside the molecule", self.inside)):
            if e is None:
                continue
            if e.resolution_before is None:
                parts.append(f"{name}: no signal, no resolution")
            else:
                parts.append(f"{name}: {e.resolution_before:.2f} A before, "
                             f"{e.resolution_full_after:.2f} A after (delivered map, CC with "
                             f"the truth 0.5), {e.resolution_after:.2f} A (modified half maps, "
                             f"equivalent FSC 0.143)")
        return "; ".join(parts) + "; from independent comparisons only"

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "reason": self.reason, "s": self.s.tolist(),
                "whole": self.whole.to_dict(),
                "inside": None if self.inside is None else self.inside.to_dict()}


def verdict_from_maps(O1, O2, C1, C2, voxel_size, envelope=None, threads: int = 1,
                      shells: Shells | None = None) -> Verdict:
    """The verdict from the original (O) and density-modified (C) half maps (real space).

    ``shells``: the box's Shells when the caller has them (they take 4 bytes per voxel).
    ``envelope`` (optional, 0..1, made from the maps): the same evidence inside the molecule,
    so that flattening the solvent alone (which wins the whole-box score) is not presented as
    density modification.  The overall call is the inside one when there is an envelope.
    """
    from .masking import masked_rfft
    shells = shells or Shells.for_box(O1.shape, voxel_size)
    maps = dict(O1=O1, O2=O2, C1=C1, C2=C2)
    # Spectra made one at a time as the moments ask for them, three held at most; the maps
    # multiplied by the envelope plane by plane inside the transform (no map-sized product).
    whole = evidence_from_moments(
        shell_moments(lambda k: rfft(maps[k], threads), shells, threads), shells)
    inside = None
    if envelope is not None:
        inside = evidence_from_moments(
            shell_moments(lambda k: masked_rfft(maps[k], envelope, threads), shells, threads),
            shells, effective_fraction(envelope, threads))
    v, why = _overall(whole, inside)
    return Verdict(v, why, shells.s, whole, inside)


def effective_fraction(mask: np.ndarray, threads: int = 1) -> float:
    """Share of the box's independent Fourier coefficients left in maps multiplied by a soft
    ``mask``: (mean w^2)^2 / mean w^4, the effective sample size of a weighted sum (Kish).
    An FSC measured inside a mask holding a third of the box scatters about sqrt(3) times
    more than 2/sqrt(N) says; without this, shells where the half-map FSC is near zero
    (and its square root, the independence bound, is poorly known) were called suspect on
    runs whose halves were independent (5ME2 with a supplied model, 3 outer shells).
    Sums in float64 plane by plane (on ``threads`` threads, added in plane order): no
    map-sized float64 temporaries."""
    def plane(k):
        sq = np.square(mask[k], dtype=np.float64)
        return sq.sum(), np.square(sq, out=sq).sum()

    sums = np.array(map_slabs(plane, range(mask.shape[0]), threads)).sum(axis=0)
    w2, w4 = sums / mask.size
    return float(w2 * w2 / w4) if w4 > 0 else 1.0


def _overall(whole: Evidence, inside: Evidence | None) -> tuple:
    if inside is None:
        return whole.verdict, whole.reason
    if SUSPECT in (whole.verdict, inside.verdict):
        e = whole if whole.verdict == SUSPECT else inside
        return SUSPECT, e.reason
    if whole.verdict == HELPED and inside.verdict != HELPED:
        return inside.verdict, (f"inside the molecule {inside.reason}; the whole-box gain "
                                f"({whole.reason}) comes from the solvent alone")
    return inside.verdict, f"inside the molecule {inside.reason}; whole box {whole.reason}"


def molecule_envelope(O1, O2, voxel_size, resolution_A: float, solvent_fraction: float,
                      threads: int = 1, shells: Shells | None = None) -> np.ndarray:
    """Soft molecular envelope made from the two half maps alone: the probabilistic local-rms
    mask (sphere of 2 x resolution) of their FSC-weighted average, holding the molecular
    volume.  The weighting matters: the noise of the outer shells dominates the local rms of
    the plain average (its mask was uncorrelated with the molecule on the bundled example)."""
    shells = shells or Shells.for_box(O1.shape, voxel_size)
    return envelope_from_spectra(rfft(O1, threads), rfft(O2, threads), shells, resolution_A,
                                 solvent_fraction, threads)


def envelope_from_spectra(F1, F2, shells: Shells, resolution_A: float,
                          solvent_fraction: float, threads: int = 1,
                          half_fsc: np.ndarray | None = None) -> np.ndarray:
    """:func:`molecule_envelope` from the half maps' spectra (left unchanged), e.g. the
    transforms prepare has already; ``half_fsc``: fsc(F1, F2, shells) when known."""
    from .fsc import fsc_ref
    from .masking import filtered_map, local_rms, probabilistic_mask
    if half_fsc is None:
        half_fsc = fsc(F1, F2, shells, threads)
    avg = F1 + F2
    avg *= np.float32(0.5)
    weighted = filtered_map(avg, fsc_ref(half_fsc), shells, threads, overwrite=True)
    del avg
    return probabilistic_mask(local_rms(weighted, shells, 2.0 * resolution_A, threads,
                                        overwrite=True), solvent_fraction, overwrite=True,
                              threads=threads)


def verdict(out_dir) -> Verdict:
    """Verdict on a finished run directory (results.json + the density-modified half maps).

    Compares within the analysed box when the run was boxed (outside it the output halves
    are just filtered originals, which would dilute the evidence).
    """
    out = Path(out_dir)
    rfile = out / "results.json"
    if not rfile.exists():
        raise InputError(f"{out}: no results.json (not a finished resolvecryoem run?)")
    res = json.loads(rfile.read_text())
    try:
        paths = [res["inputs"]["half_map_1"]["path"], res["inputs"]["half_map_2"]["path"]]
    except KeyError:
        raise InputError(f"{rfile}: the original half maps are not recorded") from None
    O1, info = mapio.read_map(paths[0])
    O2, _ = mapio.read_map(paths[1])
    C = []
    for i in (1, 2):
        d, ci = mapio.read_map(out / f"denmod_half_map_{i}.mrc")
        check_same_grid(d, ci, info, f"density-modified half map {i}")
        C.append(d)
    box = res.get("box")
    if box and "taper_voxels" in box:
        # the run's analysed box with its soft edge, as the run assessed it
        b = boxing.Box.from_dict(box, O1.shape)
        O1, O2, C = boxing.cut(O1, b), boxing.cut(O2, b), [boxing.cut(c, b) for c in C]
    elif box:  # a run of an earlier version, which did not record the soft edge
        sl = tuple(slice(a, b) for a, b in zip(box["lower"], box["upper"]))
        O1, O2, C = O1[sl], O2[sl], [c[sl] for c in C]
    return verdict_from_run(O1, O2, C[0], C[1], info.voxel_size, res)


def verdict_from_run(O1, O2, C1, C2, voxel_size, results: dict, threads: int = 1,
                     shells: Shells | None = None, envelope: np.ndarray | None = None
                     ) -> Verdict:
    """The verdict of a run on its (boxed) maps, with the molecular envelope made from the
    original half maps when the run recorded its resolution and solvent fraction.  The
    pipeline calls this on what it writes, and ``resolvecryoem verdict`` on the files, so the
    two always agree.  ``envelope``: :func:`molecule_envelope` of O1 and O2 with the run's
    figures, made already (prepare makes it from the transforms it has)."""
    if envelope is None:
        try:
            d = results["resolution"]["used"]
            f = results["solvent_fraction"]["boxed"]
        except (KeyError, TypeError):
            pass
        else:
            envelope = molecule_envelope(O1, O2, voxel_size, d, f, threads, shells)
    v = verdict_from_maps(O1, O2, C1, C2, voxel_size, envelope, threads, shells)
    independence = results.get("independence") or {}
    if independence.get("independent") is False:
        v.verdict, v.reason = SUSPECT, independence.get("explanation", "the input half maps "
                                                        "are not independent")
    return v


def verdict_main(argv) -> int:
    p = argparse.ArgumentParser(prog="resolvecryoem verdict",
                                description="Did density modification help? Independent "
                                            "comparisons only, with evidence per shell.")
    p.add_argument("output_dir", help="folder of a finished resolvecryoem run")
    p.add_argument("--json", help="also write the verdict and its evidence as JSON here")
    args = p.parse_args(argv)
    try:
        v = verdict(args.output_dir)
    except InputError as e:
        print(f"resolvecryoem verdict: error: {e}", file=sys.stderr)
        return 2
    print(v.table())
    print(v.summary())
    if args.json:
        mapio.atomic_write_text(args.json, json.dumps(v.to_dict(), indent=1))
    return 0


# ---------------------------------------------------------------------------------------------
def matched_sharpening(F_a, F_b, shells: Shells):
    """Both spectra scaled per shell to the geometric mean of their shell rms amplitudes, so
    their resolution dependence is the same and differences are intrinsic to the maps."""
    ra, rb = shell_rms(F_a, shells), shell_rms(F_b, shells)
    target = np.sqrt(ra * rb)
    ka = np.where(ra > 0, target / np.where(ra > 0, ra, 1), 0.0)
    kb = np.where(rb > 0, target / np.where(rb > 0, rb, 1), 0.0)
    return F_a * ka[shells.index], F_b * kb[shells.index]


def compare(map_a, map_b, model=None, resolution=None, out_dir=None,
            voxel_size=None) -> dict:
    """Matched maps, map-map FSC and (with a model) map-model FSC of each map.
    ``voxel_size`` (A) overrides the headers (e.g. Scipion's sampling rate)."""
    A, ia = mapio.read_map(map_a)
    B, ib = mapio.read_map(map_b)
    if voxel_size is not None:
        ia, ib = (mapio.with_voxel_size(i, voxel_size) for i in (ia, ib))
    check_same_grid(B, ib, ia, "second map")
    if resolution is not None and resolution < 2 * float(ia.voxel_size.max()) - 1e-6:
        raise InputError(f"resolution {resolution} A is finer than Nyquist of {map_a}")
    shells = Shells.for_box(A.shape, ia.voxel_size)
    FA, FB = rfft(A), rfft(B)
    Fa, Fb = matched_sharpening(FA, FB, shells)
    if resolution:
        lp = lowpass(shells, resolution)
        Fa, Fb = Fa * lp, Fb * lp
    result = {"map_a": str(map_a), "map_b": str(map_b), "s": shells.s.tolist(),
              "map_map_fsc": fsc(Fa, Fb, shells).tolist()}
    result["map_map_resolution_0.5"] = resolution_at(np.array(result["map_map_fsc"]), shells,
                                                     0.5)
    if model is not None:
        result.update(_map_model_scores(FA, FB, model, ia, shells, resolution))
        result["model"] = str(model)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for tag, X, path in (("a", Fa, map_a), ("b", Fb, map_b)):
            name = f"matched_{Path(path).stem}.mrc"
            if tag == "b" and name == f"matched_{Path(map_a).stem}.mrc":
                name = f"matched_{Path(path).stem}_b.mrc"
            mapio.write_map(out / name, irfft(X, A.shape), ia)
            result[f"matched_{tag}"] = str(out / name)
        mapio.atomic_write_text(out / "compare.json", json.dumps(result, indent=1))
    return result


def _map_model_scores(Fa, Fb, model, info, shells: Shells, resolution=None) -> dict:
    """Map-model FSC of each map, whole box and around the model, and a per-shell call.

    Each map is scaled to the model's shell amplitudes on its own (never matched to the other
    map), so its around-the-model score depends on the map and the model alone.  A shell is
    "a"/"b" when one map's FSC with the model exceeds the other's by more than 2/sqrt(N),
    else "same"; a winner needs at least MIN_SHELLS such shells more than the other map has.
    """
    from .model_map import model_density, model_envelope
    shape = shells.shape
    M = rfft(model_density(model, shape, info.voxel_size, info.start_A))
    env = model_envelope(model, shape, info.voxel_size, info.start_A)
    m_map = irfft(M, shape)
    FM_env = rfft(m_map * env)
    rms_m = shell_rms(M, shells)
    lp = lowpass(shells, resolution) if resolution else np.float32(1.0)
    out, curves = {}, {}
    for tag, X in (("a", Fa), ("b", Fb)):
        rms_x = shell_rms(X, shells)
        k = np.where(rms_x > 0, rms_m / np.maximum(rms_x, 1e-30), 0.0)
        X = X * shells.expand(k) * lp
        whole = fsc(X, M, shells)
        inside = fsc(rfft(irfft(X, shape) * env), FM_env, shells)
        curves[tag] = inside
        out[f"map_model_fsc_{tag}"] = whole.tolist()
        out[f"map_model_fsc_{tag}_envelope"] = inside.tolist()
        out[f"map_model_resolution_{tag}"] = robust_resolution_at(whole, shells, 0.5)
        out[f"map_model_resolution_{tag}_envelope"] = robust_resolution_at(inside, shells, 0.5)
    sig = shells.significance()
    diff = curves["b"] - curves["a"]
    calls = ["same" if k == 0 or abs(d) <= g else ("b" if d > 0 else "a")
             for k, (d, g) in enumerate(zip(diff, sig))]
    n_a, n_b = calls.count("a"), calls.count("b")
    if n_b >= max(MIN_SHELLS, n_a + MIN_SHELLS):
        better = "b"
    elif n_a >= max(MIN_SHELLS, n_b + MIN_SHELLS):
        better = "a"
    else:
        better = None
    out.update(shell_call_envelope=calls, better=better,
               evidence=f"around the model, {n_a} shells favour map a, {n_b} map b, "
                        f"{len(calls) - 1 - n_a - n_b} show no significant difference "
                        f"(2/sqrt(N))")
    return out


def robust_resolution_at(curve, shells: Shells, threshold: float, run: int = 2) -> float:
    """Where a curve falls below ``threshold`` and stays below for ``run`` shells: a single
    shell's dip (a noisy or damaged shell) does not end it."""
    curve = np.asarray(curve)
    below = curve < threshold
    for i in range(1, shells.n):
        if below[i:i + run].all():
            return resolution_at(curve, shells, threshold, start=max(i, 1))
    return float(1.0 / shells.s[-1])


def compare_main(argv) -> int:
    p = argparse.ArgumentParser(prog="resolvecryoem compare",
                                description="Which of two maps is better? Matched "
                                            "sharpening, map-map and map-model FSC.")
    p.add_argument("map_a")
    p.add_argument("map_b")
    p.add_argument("--model", help="atomic model for map-model FSC")
    p.add_argument("--resolution", type=float, help="low-pass both matched maps here (A)")
    p.add_argument("--output-dir", default="resolvecryoem_compare")
    args = p.parse_args(argv)
    try:
        r = compare(args.map_a, args.map_b, args.model, args.resolution, args.output_dir)
    except InputError as e:
        print(f"resolvecryoem compare: error: {e}", file=sys.stderr)
        return 2
    print(f"map-map FSC = 0.5 at {r['map_map_resolution_0.5']:.2f} A (after matched "
          f"sharpening); matched maps in {args.output_dir}")
    if args.model:
        for tag, path in (("a", args.map_a), ("b", args.map_b)):
            print(f"  {path}: map-model FSC = 0.5 at {r[f'map_model_resolution_{tag}']:.2f} A "
                  f"(whole box), {r[f'map_model_resolution_{tag}_envelope']:.2f} A (around "
                  f"the model)")
        better = r["better"]
        if better is None:
            print(f"  no significant difference between the maps ({r['evidence']})")
        else:
            print(f"  better around the model: {args.map_a if better == 'a' else args.map_b} "
                  f"({r['evidence']})")
        print("  note: a model refined against one of the maps favours that map; refine the "
              "model against each map before comparing if you can.")
    return 0
