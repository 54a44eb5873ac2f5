"""Symmetry not used in the reconstruction, averaged as part of the density-modification target.

Operators are (R, t) acting on model coordinates in A (x, y, z): x' = R x + t.  Point groups
(``C2``, ``D7``, ``T``, ``O``, ``I``; ``Dy4`` puts the dihedral 2-fold along y instead of x)
act about the centre of the INPUT box, voxel index n/2 on each axis as in RELION and Scipion,
with the n-fold axis along z.  ``.ncs_spec`` files (Phenix) give operators explicitly.

The target at each voxel is the average of the map over the OTHER symmetry copies (the
identity is left out, so a coefficient's own value does not vote for itself), used by
:mod:`likelihood` as a Gaussian term in the molecule region.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from scipy import ndimage

from .errors import InputError

_CHUNK = 1 << 20  # voxels per chunk when sampling symmetry copies


def _axis_rotation(axis, angle) -> np.ndarray:
    a = np.asarray(axis, dtype=np.float64)
    a = a / np.linalg.norm(a)
    K = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


def _close_group(generators) -> np.ndarray:
    """All products of the generators (a finite rotation group)."""
    group = [np.eye(3)]
    frontier = [np.eye(3)]
    while frontier:
        new = []
        for g in frontier:
            for h in generators:
                p = h @ g
                if not any(np.allclose(p, q, atol=1e-6) for q in group):
                    group.append(p)
                    new.append(p)
        frontier = new
        if len(group) > 60:
            raise ValueError("generators do not close into a point group")
    return np.array(group)


def point_group(symbol: str) -> np.ndarray:
    """Rotation matrices (n, 3, 3) of a point group symbol: C<n>, D<n>, Dy<n>, T, O, I."""
    s = symbol.strip().upper()
    m = re.fullmatch(r"(C|D|DY)(\d+)", s)
    if m:
        kind, n = m.group(1), int(m.group(2))
        if n < 1:
            raise InputError(f"symmetry {symbol}: the order must be at least 1")
        # Listed directly rather than closed from generators: any order n, in O(n).
        cyclic = np.array([_axis_rotation((0, 0, 1), 2 * np.pi * k / n) for k in range(n)])
        if kind == "C":
            return cyclic
        two_fold = _axis_rotation((1, 0, 0) if kind == "D" else (0, 1, 0), np.pi)
        return np.concatenate([cyclic, two_fold @ cyclic])
    if s == "T":   # 2-folds along x, y, z; 3-fold along (1, 1, 1)
        return _close_group([_axis_rotation((0, 0, 1), np.pi),
                             _axis_rotation((1, 1, 1), 2 * np.pi / 3)])
    if s == "O":   # 4-folds along x, y, z
        return _close_group([_axis_rotation((0, 0, 1), np.pi / 2),
                             _axis_rotation((1, 1, 1), 2 * np.pi / 3)])
    if s == "I":   # 2-folds along x, y, z (I222 orientation); 5-fold along (0, 1, phi)
        phi = (1 + 5 ** 0.5) / 2
        return _close_group([_axis_rotation((0, 0, 1), np.pi),
                             _axis_rotation((1, 1, 1), 2 * np.pi / 3),
                             _axis_rotation((0, 1, phi), 2 * np.pi / 5)])
    raise InputError(f"symmetry {symbol!r}: give C<n>, D<n>, Dy<n>, T, O or I")


def operators_about(rotations: np.ndarray, centre_xyz_A) -> list:
    """(R, t) pairs of rotations about a centre: t = c - R c."""
    c = np.asarray(centre_xyz_A, dtype=np.float64)
    return [(R, c - R @ c) for R in rotations]


def ncs_spec_text(operators) -> str:
    """A Phenix .ncs_spec file (one group) of (R, t) operators, t in A: the form
    :func:`read_ncs_spec` reads (the first operator should be the identity)."""
    out = ["new_ncs_group"]
    for R, t in operators:
        out.append("new_operator")
        out += ["rota_matrix " + " ".join(f"{v:.6f}" for v in row) for row in np.asarray(R)]
        out.append("tran_orth " + " ".join(f"{v:.4f}" for v in np.asarray(t)))
    return "\n".join(out) + "\n"


def read_ncs_spec(path) -> list:
    """(R, t) operators of a Phenix .ncs_spec file (rota_matrix rows and tran_orth)."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read the symmetry file ({e})") from None
    rows, trans, ops = [], None, []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words:
            continue
        key = words[0].lower()
        if key in ("rota_matrix", "tran_orth"):
            try:
                values = [float(v) for v in words[1:]]
            except ValueError:
                values = []
            if len(values) != 3 or not np.all(np.isfinite(values)):
                raise InputError(f"{path}, line {number}: {key} needs three numbers, got "
                                 f"{line.strip()!r}")
            if key == "rota_matrix":
                if len(rows) == 3:
                    raise InputError(f"{path}, line {number}: a fourth rota_matrix row "
                                     f"before tran_orth")
                rows.append(values)
            else:
                if len(rows) != 3:
                    raise InputError(f"{path}, line {number}: tran_orth after "
                                     f"{len(rows)} rota_matrix rows (three are needed)")
                trans = values
        if len(rows) == 3 and trans is not None:
            ops.append((np.array(rows), np.array(trans)))
            rows, trans = [], None
    if rows:
        raise InputError(f"{path}: the last operator has {len(rows)} rota_matrix rows and no "
                         f"tran_orth")
    if not ops:
        raise InputError(f"{path}: no operators (rota_matrix / tran_orth) found")
    R0, t0 = ops[0]
    if not (np.allclose(R0, np.eye(3), atol=1e-3) and np.allclose(t0, 0, atol=1e-2)):
        if not any(np.allclose(R, np.eye(3), atol=1e-3) and np.allclose(t, 0, atol=1e-2)
                   for R, t in ops):
            ops.insert(0, (np.eye(3), np.zeros(3)))
    for R, _ in ops:
        if not np.allclose(R @ R.T, np.eye(3), atol=1e-3) or np.linalg.det(R) < 0:
            raise InputError(f"{path}: a rota_matrix is not a rotation"
                             + (" (it is a mirror: determinant -1)"
                                if np.allclose(R @ R.T, np.eye(3), atol=1e-3) else ""))
    return ops


def box_centre_xyz(shape_zyx, voxel_zyx, start_zyx) -> np.ndarray:
    """Model coordinates (x, y, z) of voxel index n/2 on each axis of the input box."""
    n = np.asarray(shape_zyx, dtype=np.float64)
    return (np.asarray(start_zyx) + (n // 2) * np.asarray(voxel_zyx))[::-1]


def average_of_others(rho: np.ndarray, operators: list, voxel_zyx, start_zyx) -> np.ndarray:
    """Average of the map over its symmetry copies other than the identity (float32).

    ``start_zyx`` is the model position (A) of rho's voxel [0, 0, 0] (for a boxed map, the
    input's start plus the box offset).  Points mapped outside the map take the map's mean.
    """
    v = np.asarray(voxel_zyx, dtype=np.float64)
    start = np.asarray(start_zyx, dtype=np.float64)
    others = [(R, t) for R, t in operators
              if not (np.allclose(R, np.eye(3), atol=1e-6) and np.allclose(t, 0, atol=1e-6))]
    if not others:
        return rho.astype(np.float32, copy=True)
    mean = float(rho.mean())
    out = np.empty(rho.size, np.float32)
    flat = np.arange(rho.size)
    # In chunks of voxels, so the coordinate arrays stay small for big boxes.
    for lo in range(0, rho.size, _CHUNK):
        idx = np.array(np.unravel_index(flat[lo:lo + _CHUNK], rho.shape), dtype=np.float64)
        xyz = (start[:, None] + idx * v[:, None])[::-1]          # (x, y, z) of each voxel
        acc = np.zeros(idx.shape[1], np.float64)
        for R, t in others:
            # The copy carried by g onto x is rho(g^-1 x).
            src = R.T @ (xyz - t[:, None])
            src_idx = (src[::-1] - start[:, None]) / v[:, None]
            # Round away float error: a voxel mapped exactly onto the last plane must not
            # be taken as outside the map.
            np.round(src_idx, 3, out=src_idx)
            acc += ndimage.map_coordinates(rho, src_idx, order=1, mode="constant", cval=mean)
        out[lo:lo + _CHUNK] = acc / len(others)
    return out.reshape(rho.shape)


def symmetry_target(rho, operators, p_molecule, voxel_zyx, start_zyx) -> tuple:
    """(target map, error variance) for the likelihood's symmetry term: the average of the
    other copies, and the P_M-weighted mean square of the map's departure from it."""
    tau = average_of_others(rho, operators, voxel_zyx, start_zyx)
    diff = rho - tau
    var = float(np.sum(p_molecule * diff * diff, dtype=np.float64)
                / max(float(p_molecule.sum()), 1.0))
    return tau, max(var, 1e-12)


def _voxel_xyz(shape, voxel_zyx, start_zyx, lo, hi) -> np.ndarray:
    """(3, n) model coordinates (x, y, z) of the flat voxel indices lo..hi-1."""
    idx = np.array(np.unravel_index(np.arange(lo, hi), shape), dtype=np.float64)
    return (np.asarray(start_zyx, np.float64)[:, None]
            + idx * np.asarray(voxel_zyx, np.float64)[:, None])[::-1]


def _dirichlet_labels(shape, voxel_zyx, start_zyx, images) -> np.ndarray:
    """Per voxel, the index of the nearest of the points ``images`` (k, 3; x, y, z)."""
    n = int(np.prod(shape))
    out = np.empty(n, np.int16)
    for lo in range(0, n, _CHUNK):
        xyz = _voxel_xyz(shape, voxel_zyx, start_zyx, lo, min(n, lo + _CHUNK))
        best = np.full(xyz.shape[1], np.inf)
        for k, q in enumerate(images):
            d2 = ((xyz - q[:, None]) ** 2).sum(0)
            closer = d2 < best
            best[closer] = d2[closer]
            out[lo:lo + _CHUNK][closer] = k
    return out.reshape(shape)


def asymmetric_unit(weight, voxel_zyx, start_zyx, operators, n_trials: int = 48,
                    coarse_A: float = 2.0) -> np.ndarray:
    """Boolean map (z, y, x) of one asymmetric unit: the Dirichlet domain of a point p, the
    voxels closer to p than to any of its images R p + t.  For a point group the operators
    carry this domain onto the others' without overlap and together they fill space (the
    orbit centroid is the group's fixed point; p must lie off every symmetry axis).  Of
    ``n_trials`` points p around the centre (at half the molecule's rms radius), the one
    whose domain boundary cuts the least ``weight`` (a non-negative molecule density) is
    taken, so that the unit holds whole subunits where the map allows; scored on a grid of
    about ``coarse_A``.  Without symmetry (one operator) the whole box."""
    weight = np.asarray(weight, np.float32)
    if len(operators) <= 1:
        return np.ones(weight.shape, bool)
    v = np.broadcast_to(np.asarray(voxel_zyx, np.float64), (3,))
    start = np.asarray(start_zyx, np.float64)
    Rs = np.array([R for R, _ in operators], np.float64)
    ts = np.array([t for _, t in operators], np.float64)
    centre = ts.mean(0)   # orbit of the origin: its centroid is fixed by the group
    # Scoring grid of at most about 64^3 points, and fewer trials for large groups (each
    # trial labels the grid once per operator): seconds, not minutes, for I on a big box.
    step = np.maximum(np.maximum(1, np.round(coarse_A / v).astype(int)),
                      np.ceil(np.array(weight.shape) / 64).astype(int))
    if len(operators) > 4:
        n_trials = max(8, min(n_trials, 192 // len(operators)))
    w = np.clip(weight[::step[0], ::step[1], ::step[2]], 0, None)
    vc = v * step
    total = float(w.sum())
    if total <= 0:
        raise ValueError("asymmetric_unit: the weight map has no positive density")
    xyz = _voxel_xyz(w.shape, vc, start, 0, w.size)
    radius = float(np.sqrt((w.ravel() * ((xyz - centre[:, None]) ** 2).sum(0)).sum() / total))
    from .models.building import fibonacci_sphere
    best = None
    for u in fibonacci_sphere(n_trials):
        p = centre + 0.5 * radius * u
        images = np.einsum("kij,j->ki", Rs, p) + ts
        gaps = np.linalg.norm(images[:, None] - images[None], axis=-1)
        # (images of a point on a sphere crowd as the group grows: the gap allowed scales
        # with their typical spacing, sqrt(4 pi / order) times the sphere's radius)
        crowd = min(1.0, 0.5 * np.sqrt(4 * np.pi / len(images)))
        if np.min(gaps + np.eye(len(images)) * 1e9) < 0.25 * radius * crowd:
            continue   # p near a symmetry axis: its domain would not be a single unit
        lab = _dirichlet_labels(w.shape, vc, start, images)
        cut = np.zeros(w.shape, bool)
        for ax in range(3):
            a, b = [slice(None)] * 3, [slice(None)] * 3
            a[ax], b[ax] = slice(1, None), slice(None, -1)
            diff = lab[tuple(a)] != lab[tuple(b)]
            cut[tuple(a)] |= diff
            cut[tuple(b)] |= diff
        score = float(w[cut].sum())
        if best is None or score < best[0]:
            best = (score, images)
    if best is None:
        raise ValueError("asymmetric_unit: no trial point off the symmetry axes")
    return _dirichlet_labels(weight.shape, v, start, best[1]) == 0
