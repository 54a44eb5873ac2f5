"""Checks of the input maps: errors that stop a run, warnings that explain poor results."""
from __future__ import annotations

import numpy as np

from .errors import InputError
from .mapio import MapInfo

# A map with more exact zeros than this, or with flat corners, has probably been masked.
MASKED_ZERO_FRACTION = 0.2
CORNER = 8


def _finite(d, info: MapInfo, what: str):
    if not np.all(np.isfinite(d)):
        n = int(np.size(d) - np.count_nonzero(np.isfinite(d)))
        raise InputError(f"{info.path}: the {what} holds {n} NaN or infinite values")
    if float(np.ptp(d)) == 0.0:
        raise InputError(f"{info.path}: the {what} is constant")


def looks_masked(d: np.ndarray) -> str | None:
    """Why a half map looks masked, or None: many exact zeros, or flat corners."""
    zeros = float(np.mean(d == 0))
    if zeros > MASKED_ZERO_FRACTION:
        return f"{100 * zeros:.0f}% of its voxels are exactly zero"
    c = min(CORNER, *(n // 4 for n in d.shape))
    if c >= 2:
        corners = [d[z, y, x] for z in (slice(0, c), slice(-c, None))
                   for y in (slice(0, c), slice(-c, None))
                   for x in (slice(0, c), slice(-c, None))]
        corner_sd = float(np.median([np.std(k) for k in corners]))
        if corner_sd < 1e-3 * float(np.std(d)):
            return "its corners are flat (no noise outside the molecule)"
    return None


def check_half_maps(d1, i1: MapInfo, d2, i2: MapInfo) -> list:
    """Raise InputError for half maps no run can use; return warnings for doubtful ones."""
    for d, i in ((d1, i1), (d2, i2)):
        _finite(d, i, "half map")
    if tuple(d1.shape) != tuple(d2.shape):
        raise InputError(f"the half maps have different boxes: {i1.path} is "
                         f"{tuple(d1.shape)[::-1]} (x, y, z), {i2.path} is "
                         f"{tuple(d2.shape)[::-1]}")
    if not np.allclose(i1.voxel_size, i2.voxel_size, rtol=1e-3):
        raise InputError(f"the half maps have different voxel sizes: {i1.path} "
                         f"{np.round(i1.voxel_size[::-1], 4).tolist()} A, {i2.path} "
                         f"{np.round(i2.voxel_size[::-1], 4).tolist()} A (x, y, z)")
    if not np.allclose(i1.start_A, i2.start_A, atol=0.01 * float(i1.voxel_size.max())):
        raise InputError(f"the half maps have different origins: {i1.path} "
                         f"{np.round(i1.start_A[::-1], 3).tolist()} A, {i2.path} "
                         f"{np.round(i2.start_A[::-1], 3).tolist()} A (x, y, z)")
    if np.array_equal(d1, d2):
        raise InputError(f"{i1.path} and {i2.path} are identical: two independent half maps "
                         f"are needed")
    warnings = []
    for d, i in ((d1, i1), (d2, i2)):
        why = looks_masked(d)
        if why:
            warnings.append(
                f"{i.path} looks masked: {why}. Density modification needs UNMASKED half maps "
                f"with noise in the solvent: the noise there is what the error model and the "
                f"solvent histogram are estimated from. Expect poor results; supply the "
                f"unmasked half maps of the refinement if you have them.")
    return warnings


def check_same_grid(d, info: MapInfo, ref: MapInfo, what: str,
                    check_voxel: bool = True) -> None:
    """A full map or mask must be on the half maps' grid (``check_voxel`` False when the voxel
    size was given by the caller and the headers are not to be trusted)."""
    if what != "mask":  # masks are checked by check_mask (a constant mask is allowed)
        _finite(d, info, what)
    if tuple(d.shape) != tuple(ref.shape):
        raise InputError(f"{info.path}: the {what} has box {tuple(d.shape)[::-1]} (x, y, z), "
                         f"the half maps {tuple(ref.shape)[::-1]}")
    if check_voxel and not np.allclose(info.voxel_size, ref.voxel_size, rtol=1e-3):
        raise InputError(f"{info.path}: the {what} has voxel size "
                         f"{np.round(info.voxel_size[::-1], 4).tolist()} A, the half maps "
                         f"{np.round(ref.voxel_size[::-1], 4).tolist()} A")


def check_mask(d, info: MapInfo) -> None:
    """A mask holds values in 0..1 (a little tolerance) and marks some molecule."""
    if not np.all(np.isfinite(d)):
        raise InputError(f"{info.path}: the mask holds NaN or infinite values")
    lo, hi = float(d.min()), float(d.max())
    if lo < -0.05 or hi > 1.05:
        raise InputError(f"{info.path}: a mask holds values from 0 (solvent) to 1 "
                         f"(molecule); this one ranges from {lo:.3g} to {hi:.3g}")
    if hi <= 0:
        raise InputError(f"{info.path}: the mask is empty (no molecule)")
