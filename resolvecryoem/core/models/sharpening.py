"""Model-based sharpening of the final map (the manual's last step of density modification
with models: "Sharpen the resulting maps using model-based sharpening with the composite").

The per-shell scale that maximises a map's correlation with the true map is the Wiener
factor <F T*> / <|F|^2>, i.e. delivered amplitude CC(s) x |T|(s) up to one overall constant
(CC the map's correlation with the truth T in the shell).  The standard final scaling guesses
the fall-off |T|(s) (an overall B, geometric scaling, a typical protein's profile); with
models it is taken from them: |T|(s) ~ A_M(s), the shell rms amplitude of a map of the
models' atoms.  By Wilson's statistics a shell's power beyond about 8 A is the sum over atoms
of their scattering factors squared (times exp(-B s^2 / 2)), not a function of where the atoms
are, so a partial or imprecisely placed model still gives the right shape; the level is
anchored at 8 A, where the delivered map keeps its own low-resolution shape (shells coarser
than 8 A are held, as in the standard scaling).  The phenix.auto_sharpen idea of scaling a
map to a model map's amplitudes, weighted by a correlation; here the weight is the run's own
estimate CC_ref (half-map based, model-free), not the map-model FSC (the models were refined
against these maps).

One scalar per shell, the same for both delivered half maps, so the delivered map stays
their average and every FSC (hence the reported resolution and verdict) is unchanged.
The model density uses one B for every atom (ensemble.B_ATOM), as the composite target does:
the models' own B factors (a supplied file's refined ones, or none for built models) are not
trusted for the fall-off of the true map.
"""
from __future__ import annotations

import numpy as np

from ..fourier import Shells, rfft
from ..fsc import power
from ..sharpening import hold_low_resolution
from .ensemble import B_ATOM, copy_density

# Shells coarser than this keep the standard scale (the molecule's low-resolution shape).
ANCHOR_A = 8.0


def model_shell_amplitude(structures, copies, shells: Shells, voxel_size, start_A,
                          b_atom: float = B_ATOM, threads: int = 1) -> np.ndarray:
    """A_M(s): rms amplitude per shell of one model's density, averaged in power over the
    copies (each copy a model of the true map; the mean of the copies would be blurred by
    their spread, which CC_ref already accounts for).  ``structures``: one Structure shared by
    the copies, or one per copy (built models)."""
    if not isinstance(structures, (list, tuple)):
        structures = [structures] * len(copies)
    total = np.zeros(shells.n)
    for st, c in zip(structures, copies):
        total += power(rfft(copy_density(st, c, shells.shape, voxel_size, start_A, b_atom),
                            threads), shells)
    return np.sqrt(total / max(len(copies), 1))


def model_final_scale(rms_final: np.ndarray, cc_ref: np.ndarray, model_amplitude: np.ndarray,
                      standard_scale: np.ndarray, shells: Shells,
                      final_scale_with_fsc_ref: bool = True,
                      anchor_A: float = ANCHOR_A) -> np.ndarray:
    """Per-shell scale of the final map that brings its amplitudes to weight(s) x A_M(s),
    weight = CC_ref (or its square root without ``final_scale_with_fsc_ref``, as in
    sharpening.final_scale), equal to ``standard_scale`` (the standard final scale) at the
    first shell finer than ``anchor_A`` and held at that value for all coarser shells."""
    cc = np.clip(np.asarray(cc_ref, dtype=np.float64), 0.0, 1.0)
    weight = cc if final_scale_with_fsc_ref else np.sqrt(cc)
    rms = np.asarray(rms_final, dtype=np.float64)
    raw = weight * np.asarray(model_amplitude, dtype=np.float64) / np.where(rms > 0, rms,
                                                                            np.inf)
    fine = (shells.s >= 1.0 / anchor_A) & (np.arange(shells.n) > 0)
    if not fine.any():
        return np.asarray(standard_scale, dtype=np.float64).copy()
    a = int(np.argmax(fine))
    norm = float(standard_scale[a]) / raw[a] if raw[a] > 0 else 0.0
    out = hold_low_resolution(raw * norm, shells, anchor_A)
    out[0] = standard_scale[0]
    return out
