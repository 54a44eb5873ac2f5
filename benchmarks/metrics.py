"""Benchmark metrics: FSC against a known truth, whole box and inside an envelope.

Thin wrappers over :mod:`resolvecryoem.core.scoring` so that the benchmark and the package
score maps the same way.
"""
from __future__ import annotations

import numpy as np

from resolvecryoem.core.fourier import Shells, irfft, rfft
from resolvecryoem.core.fsc import fsc, power, resolution_at
from resolvecryoem.core.scoring import fsc_against_truth


def truth_scores(rho, truth, voxel_size, envelope) -> dict:
    """Resolutions at FSC(map, truth) = 0.5 and 0.143, whole box and inside the envelope,
    the curves, and the correlation inside the envelope."""
    out = {}
    for where, env in (("whole", None), ("envelope", envelope)):
        shells, curve = fsc_against_truth(rho, truth, voxel_size, env)
        out[f"{where}_0.5"] = resolution_at(curve, shells, 0.5)
        out[f"{where}_0.143"] = resolution_at(curve, shells, 0.143)
        out[f"fsc_{where}"] = curve
    out["s"] = shells.s
    out["count"] = shells.count
    inside = envelope > 0.5
    out["cc_molecule"] = float(np.corrcoef(rho[inside], truth[inside])[0, 1])
    out["solvent_rms"] = solvent_rms(rho, truth, voxel_size, envelope)
    return out


def solvent_rms(rho, truth, voxel_size, envelope, far: float = 1e-3) -> float:
    """rms of the map in the solvent (envelope < ``far``, i.e. beyond its soft edge) relative
    to its rms in the molecule (envelope > 0.5), both about the solvent mean, after each shell
    is scaled to the truth's amplitude x FSC(map, truth).

    The scaling makes the figure independent of how a method sharpens or weights its shells
    (like the FSC) and gives each shell the weight its agreement with the truth deserves, so
    noise left at shells a method rightly weighted down does not count against it.
    """
    shells = Shells.for_box(rho.shape, voxel_size)
    R, T = rfft(rho), rfft(truth)
    w = np.clip(fsc(R, T, shells), 0.0, None) * np.sqrt(power(T, shells)) \
        / np.maximum(np.sqrt(power(R, shells)), 1e-30)
    m = irfft(R * shells.expand(w), rho.shape)
    sol, mol = envelope < far, envelope > 0.5
    mu = float(m[sol].mean())
    return float(np.sqrt(np.mean((m[sol] - mu) ** 2)) / np.sqrt(np.mean((m[mol] - mu) ** 2)))


def shell_deficit(fsc_method, fsc_reference, count) -> np.ndarray:
    """How far below the reference a method's FSC falls per shell, in units of
    2/sqrt(number of coefficients in the shell) (>1 means significantly worse)."""
    sig = 2.0 / np.sqrt(np.maximum(np.asarray(count) / 2.0, 1.0))
    return (np.asarray(fsc_reference) - np.asarray(fsc_method)) / sig


def sharpening_scores(rho, truth, voxel_size, envelope, marks_A=(6.0, 4.5, 3.5, 3.0),
                      anchor_A: float = 8.0) -> dict:
    """Figures that per-shell scaling changes (FSC against the truth does not):

    - ``cc_box``, ``cc_envelope``: real-space correlation with the truth, whole box and
      inside the envelope (> 0.5);
    - ``cc_box_ideal``: the same map scaled per shell by the Wiener factor
      FSC(map, truth) |truth| / |map| (the best any per-shell sharpening can do);
    - ``ratio_<d>``: shell amplitude / the ideal FSC(map, truth) x |truth|, divided by the
      same ratio at ``anchor_A`` (1 = the truth's Wiener-ideal fall-off), at the resolutions
      ``marks_A`` (within the box's Nyquist);
    - ``log2_ratio_rms``: rms of log2 of that ratio over the shells from ``anchor_A`` to
      where FSC(map, truth) falls below 0.143 (0 = ideal; 1 = a factor 2 off on average).
    """
    shells = Shells.for_box(rho.shape, voxel_size)
    R, T = rfft(rho), rfft(truth)
    curve = fsc(R, T, shells)
    rms_r, rms_t = np.sqrt(power(R, shells)), np.sqrt(power(T, shells))
    ideal = np.clip(curve, 0.0, None) * rms_t
    ratio = rms_r / np.maximum(ideal, 1e-30)
    a = int(np.argmax(shells.s >= 1.0 / anchor_A))
    ratio = ratio / ratio[a]
    inside = envelope > 0.5
    wiener = irfft(R * shells.expand(ideal / np.maximum(rms_r, 1e-30)), rho.shape)
    out = {"cc_box": float(np.corrcoef(rho.ravel(), truth.ravel())[0, 1]),
           "cc_envelope": float(np.corrcoef(rho[inside], truth[inside])[0, 1]),
           "cc_box_ideal": float(np.corrcoef(wiener.ravel(), truth.ravel())[0, 1])}
    for d in marks_A:
        if 1.0 / d <= shells.s[-1]:
            out[f"ratio_{d:g}"] = float(np.interp(1.0 / d, shells.s, ratio))
    end = np.nonzero((curve < 0.143) & (np.arange(shells.n) > a))[0]
    stop = int(end[0]) if len(end) else shells.n
    sel = slice(a, stop)
    out["log2_ratio_rms"] = float(np.sqrt(np.mean(np.log2(np.maximum(ratio[sel], 1e-6)) ** 2)))
    out["ratio_curve"] = ratio.tolist()
    return out
