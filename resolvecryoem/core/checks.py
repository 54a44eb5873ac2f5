"""Checks of the input maps: errors that stop a run, warnings that explain poor results."""
from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .errors import InputError
from .mapio import MapInfo
from .sequence import SOLVENT_FRACTION_RANGE

# A map with more exact zeros than this, or with flat corners, has probably been masked.
MASKED_ZERO_FRACTION = 0.2
CORNER = 8
# A mask must leave at least this fraction of the box as solvent (values below 0.5).
MIN_MASK_SOLVENT = 0.01


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
    solvent = float(np.mean(d < 0.5))
    if solvent < MIN_MASK_SOLVENT:
        raise InputError(f"{info.path}: the mask marks {100 * (1 - solvent):.2f}% of the box as "
                         f"molecule; density modification needs solvent (at least "
                         f"{100 * MIN_MASK_SOLVENT:g}% of the box below 0.5), whose density "
                         f"histogram and flatness it uses")


def check_molecular_volume(volume_A3: float, box_volume_A3: float, how: str, box_path) -> list:
    """InputError when the molecule cannot fit the box; warnings (saying what is assumed)
    when its solvent fraction falls outside the range the solvent mask is computed for."""
    lo, hi = SOLVENT_FRACTION_RANGE
    f = 1.0 - volume_A3 / box_volume_A3
    if f < 0:
        raise InputError(
            f"the molecular volume {volume_A3:.3g} A^3 ({how}) is {volume_A3 / box_volume_A3:.1f} "
            f"times the box of {box_path} ({box_volume_A3:.3g} A^3): check the sequence, "
            f"copies or molecular_mass; for a map of part of a larger complex give the "
            f"sequence of that part, or solvent_fraction")
    if f < lo:
        return [f"the molecule ({how}) fills {100 * (1 - f):.1f}% of the box of {box_path}: "
                f"assumed a solvent fraction of {lo} instead of {f:.3f}. Density "
                f"modification needs solvent; check the sequence, copies or molecular_mass."]
    if f > hi:
        return [f"the molecule ({how}) fills only {100 * (1 - f):.2f}% of the box of "
                f"{box_path}: assumed a solvent fraction of {hi} instead of {f:.4f}. Check "
                f"the sequence, copies or molecular_mass."]
    return []


def file_sha256(path) -> str:
    """SHA-256 of a file's bytes (hex), read in 1 MB pieces."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def in_background(fn, *args) -> Future:
    """``fn(*args)`` on a thread of its own, for the caller to collect (``.result()``, which
    raises what ``fn`` raised) when it needs it.  For hashing the inputs: hashlib lets go of
    the GIL, so a 256 MB map's 0.3 s of SHA-256 overlaps the run's own work."""
    pool = ThreadPoolExecutor(1)
    try:
        return pool.submit(fn, *args)
    finally:
        pool.shutdown(wait=False)  # the thread ends when fn returns


def files_sha256(paths: dict) -> dict:
    """{name: SHA-256} of ``paths`` ({name: path or None}; None entries are left out)."""
    return {k: file_sha256(v) for k, v in paths.items() if v is not None}


def check_inputs_unchanged(paths: dict, sha256: dict) -> None:
    """InputError naming the input when a file recorded at the start of a run ({name: path},
    {name: SHA-256}) is gone or has changed since: later stages must not combine state from
    one version of an input with another."""
    for name, digest in sha256.items():
        path = paths.get(name)
        if path is None:
            continue
        if not Path(path).is_file():
            raise InputError(f"{path}: the {name.replace('_', ' ')} was removed since the run "
                             f"started; run it again from the start")
        if file_sha256(path) != digest:
            raise InputError(f"{path}: the {name.replace('_', ' ')} has changed since the run "
                             f"started (its SHA-256 differs from the one recorded then); run "
                             f"again from the start")
