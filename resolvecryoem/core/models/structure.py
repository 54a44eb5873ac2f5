"""The supplied atomic model as arrays, and the checks that it belongs to the map.

What is kept (documented behaviour): the first model of the file; polymer residues of proteins
and nucleic acids, all chains; the first alternative conformation of each atom.  Hydrogens,
waters and ligands are dropped: a ligand's density then comes from the maps alone, never from
a model we cannot restrain.  Coordinates are (x, y, z) in A; maps are (z, y, x) arrays with
``voxel_size`` and ``start_A`` (model position of voxel [0, 0, 0]) in (z, y, x) as in
:mod:`resolvecryoem.core.mapio`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gemmi
import numpy as np

from ..errors import InputError
from ..model_map import read_model

# At least this fraction of the atoms must lie inside the box.
MIN_INSIDE = 0.9
# A map-model correlation (model density at the resolution vs the map, near the atoms) below
# this draws a warning: the model is probably misplaced or for another map.
POOR_FIT_CC = 0.3


@dataclass
class Atoms:
    """Per-atom arrays of a model, in the order of its gemmi Structure (chains, residues,
    atoms).  ``residue``: a residue index unique over the model; ``chain``: chain index;
    ``seqid``: residue number within its chain (for neighbours along a chain)."""

    xyz: np.ndarray       # (n, 3) float64, A
    z: np.ndarray         # (n,) atomic number
    b: np.ndarray         # (n,) B, A^2
    occ: np.ndarray       # (n,)
    residue: np.ndarray   # (n,) int
    chain: np.ndarray     # (n,) int
    seqid: np.ndarray     # (n,) int, residue number in the chain
    names: np.ndarray     # (n,) str, atom names

    @property
    def n(self) -> int:
        return len(self.z)

    @property
    def n_residues(self) -> int:
        return int(self.residue.max()) + 1 if self.n else 0


def read_structure(model, name=None) -> gemmi.Structure:
    """The model (a path or a gemmi Structure) filtered as the module says: first model,
    polymer residues only, no hydrogens, waters or ligands, first alternative conformation.
    InputError naming the file when it cannot be read or holds no atoms."""
    name = name or (str(model) if not isinstance(model, gemmi.Structure) else "model")
    st = read_model(model)
    st.remove_alternative_conformations()
    if st[0].count_atom_sites() == 0:
        raise InputError(f"{name}: the model holds no polymer atoms")
    return st


def atoms_of(st: gemmi.Structure) -> Atoms:
    """Per-atom arrays of the first model of a Structure."""
    xyz, z, b, occ, res, chain, seqid, names = [], [], [], [], [], [], [], []
    r_index = 0
    for c_index, ch in enumerate(st[0]):
        for r in ch:
            for a in r:
                p = a.pos
                xyz.append((p.x, p.y, p.z))
                z.append(a.element.atomic_number)
                b.append(a.b_iso)
                occ.append(a.occ)
                res.append(r_index)
                chain.append(c_index)
                seqid.append(r.seqid.num)
                names.append(a.name)
            r_index += 1
    return Atoms(np.array(xyz, np.float64).reshape(-1, 3), np.array(z, np.int32),
                 np.array(b, np.float64), np.array(occ, np.float64),
                 np.array(res, np.int64), np.array(chain, np.int64), np.array(seqid, np.int64),
                 np.array(names))


def with_coordinates(st: gemmi.Structure, xyz, b=None, occ=None) -> gemmi.Structure:
    """A copy of ``st`` with new coordinates (and B, occupancy) per atom, in atoms_of order."""
    out = st.clone()
    xyz = np.asarray(xyz, dtype=np.float64)
    k = 0
    for ch in out[0]:
        for r in ch:
            for a in r:
                a.pos = gemmi.Position(*xyz[k])
                if b is not None:
                    a.b_iso = float(b[k])
                if occ is not None:
                    a.occ = float(occ[k])
                k += 1
    if k != len(xyz):
        raise ValueError(f"{len(xyz)} coordinates for a model of {k} atoms")
    return out


def write_structure(st: gemmi.Structure, path) -> None:
    """mmCIF (or PDB if the name ends in .pdb), written under a temporary name then moved."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix.lower() == ".pdb":
        st.write_pdb(str(tmp))
    else:
        doc = st.make_mmcif_document()
        doc.write_file(str(tmp))
    tmp.replace(path)


# ---------------------------------------------------------------------------------------------
def _inside_fraction(xyz, shape, voxel_zyx, start_zyx) -> float:
    lo = np.asarray(start_zyx)[::-1]
    hi = lo + (np.asarray(shape) - 1)[::-1] * np.asarray(voxel_zyx)[::-1]
    return float(np.mean(np.all((xyz >= lo) & (xyz <= hi), axis=1)))


def check_fits_box(xyz, shape, voxel_size, start_A, name="model",
                   origin_field_A=None) -> float:
    """Fraction of the atoms inside the map's box; InputError when it is below MIN_INSIDE.

    The message names the file, the offset of the model's centre from the box centre (A, x y
    z) and, when shifting by the map's origin or start (the usual frame/origin mix-up), or
    centring on the box, would put the model inside, that hint.
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    voxel = np.broadcast_to(np.asarray(voxel_size, dtype=np.float64), (3,))
    start = np.asarray(start_A, dtype=np.float64)
    shape = tuple(int(n) for n in shape)
    inside = _inside_fraction(xyz, shape, voxel, start)
    if inside >= MIN_INSIDE:
        return inside
    centre_box = (start + 0.5 * (np.asarray(shape) - 1) * voxel)[::-1]
    centre_model = 0.5 * (xyz.min(0) + xyz.max(0))
    offset = centre_model - centre_box
    fmt = lambda v: "(" + ", ".join(f"{x:.1f}" for x in v) + ")"  # noqa: E731
    hints = []
    candidates = [("adding the map's start (origin) to the model coordinates", start[::-1]),
                  ("subtracting the map's start (origin) from the model coordinates",
                   -start[::-1])]
    if origin_field_A is not None and np.any(origin_field_A):
        o = np.asarray(origin_field_A, dtype=np.float64)[::-1]
        candidates += [("adding the map header's ORIGIN to the model coordinates", o),
                       ("subtracting the map header's ORIGIN from the model coordinates", -o)]
    candidates.append(("moving the model's centre onto the box centre", -offset))
    for what, shift in candidates:
        if np.allclose(shift, 0):
            continue
        if _inside_fraction(xyz + shift, shape, voxel, start) >= MIN_INSIDE:
            hints.append(f"{what} (a shift of {fmt(shift)} A) would put it inside: check the "
                         "frame of the model and the map's origin")
            break
    where = "wholly outside" if inside == 0 else f"only {100 * inside:.0f}% inside"
    msg = (f"{name}: the model lies {where} the map's box; its centre is offset by "
           f"{fmt(offset)} A (x, y, z) from the box centre {fmt(centre_box)} A")
    if hints:
        msg += "; " + hints[0]
    elif inside > 0:
        msg += ("; if the model is larger than the map (a map of part of a complex), give "
                "only the part of the model inside the map")
    raise InputError(msg)


def near_mask(xyz, shape, voxel_size, start_A, near_A: float) -> np.ndarray:
    """Voxels (bool, z y x) within ``near_A`` of the voxel nearest to any of the points (n, 3)
    x, y, z: the atom voxels dilated by a ball, done sparsely (each point's voxel offset by
    every voxel offset of the ball, on a grid padded by the ball's radius so that no offset
    needs a bounds check), which gives the same mask as distance_transform_edt <= near_A or
    binary_dilation with that ball at a fraction of their cost."""
    voxel = np.broadcast_to(np.asarray(voxel_size, dtype=np.float64), (3,))
    shape = np.array([int(n) for n in shape])
    idx = np.rint((np.asarray(xyz, np.float64).reshape(-1, 3)[:, ::-1]
                   - np.asarray(start_A, np.float64)) / voxel).astype(np.int64)
    idx = idx[np.all((idx >= 0) & (idx < shape), axis=1)]
    r = np.floor(near_A / voxel + 1e-9).astype(np.int64)
    padded = shape + 2 * r
    out = np.zeros(tuple(padded), bool)
    if len(idx):
        grid = np.stack(np.meshgrid(*[np.arange(-k, k + 1) for k in r], indexing="ij"), -1)
        offsets = grid[np.sum((grid * voxel) ** 2, axis=-1) <= near_A ** 2]
        stride = np.array([padded[1] * padded[2], padded[2], 1])
        flat = (idx + r) @ stride
        out.ravel()[(flat[:, None] + offsets @ stride).ravel()] = True
    return out[r[0]:r[0] + shape[0], r[1]:r[1] + shape[1], r[2]:r[2] + shape[2]].copy()


def fit_correlation(xyz, z, rho, voxel_size, start_A, resolution_A, radius_A=None,
                    smooth=None) -> float:
    """Correlation of the map with the model's density near the atoms.

    Model density: Gaussians of width ~resolution/2 weighted by atomic number (computed on
    the grid with gemmi's density calculator would be slower and no more telling at this
    stage); both maps low-passed alike, compared within ``radius_A`` (default: resolution) of
    an atom of non-zero weight.  ``smooth``: the map already low-passed so
    (:func:`fit_smoothed`), when several models are compared with one map.
    """
    from scipy import ndimage
    voxel = np.broadcast_to(np.asarray(voxel_size, dtype=np.float64), (3,))
    start = np.asarray(start_A, dtype=np.float64)
    idx = np.rint((np.asarray(xyz)[:, ::-1] - start) / voxel).astype(int)
    ok = np.all((idx >= 0) & (idx < np.asarray(rho.shape)), axis=1)
    spikes = np.zeros(rho.shape, np.float32)
    np.add.at(spikes, tuple(idx[ok].T), np.asarray(z, np.float32)[ok])
    sigma = 0.5 * resolution_A / voxel
    model = ndimage.gaussian_filter(spikes, sigma)
    if smooth is None:
        smooth = fit_smoothed(rho, voxel, resolution_A)
    weighted = np.asarray(xyz)[np.asarray(z) != 0]
    near = near_mask(weighted, rho.shape, voxel, start, radius_A or resolution_A)
    if near.sum() < 10:
        return 0.0
    a, b = model[near] - model[near].mean(), smooth[near] - smooth[near].mean()
    return float(np.sum(a * b) / max(np.sqrt(np.sum(a * a) * np.sum(b * b)), 1e-30))


def fit_smoothed(rho, voxel_size, resolution_A) -> np.ndarray:
    """The map low-passed as :func:`fit_correlation` compares it (Gaussian, sigma
    resolution/2)."""
    from scipy import ndimage
    voxel = np.broadcast_to(np.asarray(voxel_size, dtype=np.float64), (3,))
    return ndimage.gaussian_filter(np.asarray(rho, np.float32), 0.5 * resolution_A / voxel)


def poor_fit_warning(cc: float, name="model") -> str | None:
    """A warning when the map-model correlation is below POOR_FIT_CC, else None."""
    if cc < POOR_FIT_CC:
        return (f"{name}: the model fits the map poorly (correlation {cc:.2f} near its atoms); "
                "is it placed in this map's frame? Model-based density modification trusts "
                "it only where the refined models agree with the map")
    return None


def expand_symmetry(st: gemmi.Structure, operators) -> gemmi.Structure:
    """The unique part copied by every (R, t) operator (x' = R x + t, as in
    :mod:`resolvecryoem.core.symmetry`); the identity copy keeps the chain names, others get
    new ones."""
    out = st.clone()
    model = out[0]
    used = {ch.name for ch in model}
    letters = iter(gemmi_chain_names(used))
    for R, t in operators:
        R = np.asarray(R, np.float64)
        t = np.asarray(t, np.float64)
        if np.allclose(R, np.eye(3), atol=1e-6) and np.allclose(t, 0, atol=1e-6):
            continue
        copy = st[0].clone()
        copy.transform_pos_and_adp(gemmi.Transform(gemmi.Mat33(R.tolist()), gemmi.Vec3(*t)))
        for ch in copy:
            ch.name = next(letters)
            model.add_chain(ch)
    out.setup_entities()
    return out


def gemmi_chain_names(used):
    """New chain names (A..Z, a..z, 0..9, then two letters) not in ``used``."""
    import itertools
    import string
    singles = string.ascii_uppercase + string.ascii_lowercase + string.digits
    for n in itertools.chain(singles, (a + b for a in singles for b in singles)):
        if n not in used:
            yield n
