"""Density and envelopes of atomic models on a map's exact voxel grid (gemmi).

Used to make maps with a known truth (tests, the example, the benchmark) and for map-model
FSC in the validation tools.  Grids are given as (shape, voxel_size, start_A) in array order
(z, y, x), as in :mod:`mapio`: voxel (k, j, i) sits at model coordinates
(start_x + i vx, start_y + j vy, start_z + k vz).
"""
from __future__ import annotations

from pathlib import Path

import gemmi
import numpy as np
from scipy import ndimage

from .errors import InputError

_POLYMER_ELEMENTS = {"C", "N", "O", "S", "P", "H", "Se"}


def read_model(model) -> gemmi.Structure:
    """A gemmi Structure (first model, no hydrogens, waters or ligands) from a file or object.

    Files without an element column (CHARMM-style names such as HG1 or CD1) make gemmi guess
    Hg or Cd: in standard polymer residues such guesses are replaced by the name's first
    letter.
    """
    if isinstance(model, gemmi.Structure):
        st = model.clone()
    else:
        path = Path(model)
        try:
            st = gemmi.read_structure(str(path))
        except (RuntimeError, ValueError, OSError) as e:
            raise InputError(f"{path}: cannot read the atomic model ({e})") from None
    st.setup_entities()
    for m in st:
        for ch in m:
            for res in ch:
                info = gemmi.find_tabulated_residue(res.name)
                if info is None or not (info.is_amino_acid() or info.is_nucleic_acid()):
                    continue
                for atom in res:
                    if atom.element.name not in _POLYMER_ELEMENTS:
                        atom.element = gemmi.Element(atom.name.strip()[:1])
    st.remove_hydrogens()
    st.remove_ligands_and_waters()
    st.remove_empty_chains()
    while len(st) > 1:
        del st[1]
    if st[0].count_atom_sites() == 0:
        raise InputError(f"{getattr(model, 'name', model)}: the model holds no polymer atoms")
    return st


def atom_positions(model) -> np.ndarray:
    """(n, 3) atom coordinates x, y, z in A."""
    st = read_model(model)
    return np.array([a.pos.tolist() for ch in st[0] for r in ch for a in r])


def model_density(model, shape, voxel_size, start_A, resolution_A=None, b_add=0.0
                  ) -> np.ndarray:
    """Electron-scattering density of a model on exactly the given grid, float32 (z, y, x).

    Computed by gemmi (DensityCalculatorE: electron scattering factors, as in cryo-EM) in a
    padded P1 cell so that atoms near the box faces do not wrap around; atoms outside the box
    only contribute their tails.  ``b_add`` (A^2) blurs every atom; ``resolution_A`` adds a
    further blur of B = resolution^2 A^2, a gentle resolution-like fall-off.
    """
    return structure_density(read_model(model), shape, voxel_size, start_A, resolution_A,
                             b_add)


def structure_density(st: gemmi.Structure, shape, voxel_size, start_A, resolution_A=None,
                      b_add=0.0) -> np.ndarray:
    """:func:`model_density` of a Structure already read and filtered (e.g. by
    :func:`read_model`), which is moved into the padded cell (the caller's copy is left
    alone)."""
    st = st.clone()
    shape = tuple(int(n) for n in shape)
    voxel = np.broadcast_to(np.asarray(voxel_size, dtype=np.float64), (3,))
    start = np.asarray(start_A, dtype=np.float64)
    blur = float(b_add)
    if resolution_A:
        blur += float(resolution_A) ** 2
    pad = np.ceil(8.0 / voxel).astype(int) + 2  # beyond the atoms' density radius
    n_cell = np.array(shape) + 2 * pad          # (z, y, x)
    cell = n_cell * voxel
    shift = pad * voxel - start                 # box voxel 0 -> cell voxel pad
    st[0].transform_pos_and_adp(gemmi.Transform(gemmi.Mat33(),
                                                gemmi.Vec3(shift[2], shift[1], shift[0])))
    st.cell = gemmi.UnitCell(cell[2], cell[1], cell[0], 90, 90, 90)
    st.spacegroup_hm = "P 1"
    st.setup_cell_images()
    dc = gemmi.DensityCalculatorE()
    dc.d_min = 2.0 * float(voxel.max())
    dc.blur = blur
    dc.set_grid_cell_and_spacegroup(st)
    # Our own grid size (put_model_density_on_grid would choose one from d_min and rate).
    dc.grid.set_size(int(n_cell[2]), int(n_cell[1]), int(n_cell[0]))
    dc.grid.fill(0.0)
    dc.add_model_density_to_grid(st[0])
    arr = np.array(dc.grid, copy=False)  # (x, y, z)
    sub = arr[pad[2]:pad[2] + shape[2], pad[1]:pad[1] + shape[1], pad[0]:pad[0] + shape[0]]
    return np.ascontiguousarray(sub.transpose(2, 1, 0), dtype=np.float32)


def model_envelope(model, shape, voxel_size, start_A, radius_A=3.0, soft_A=3.0
                   ) -> np.ndarray:
    """Soft mask around the atoms: 1 within ``radius_A``, cosine to 0 over ``soft_A``."""
    shape = tuple(int(n) for n in shape)
    voxel = np.broadcast_to(np.asarray(voxel_size, dtype=np.float64), (3,))
    xyz = atom_positions(model)
    idx = np.rint((xyz[:, ::-1] - np.asarray(start_A)) / voxel).astype(int)
    inside = np.all((idx >= 0) & (idx < np.array(shape)), axis=1)
    atoms = np.zeros(shape, bool)
    atoms[tuple(idx[inside].T)] = True
    if not atoms.any():
        raise InputError("no atom of the model lies inside the map")
    dist = ndimage.distance_transform_edt(~atoms, sampling=voxel)
    t = np.clip((dist - radius_A) / max(soft_A, 1e-6), 0.0, 1.0)
    return (0.5 * (1.0 + np.cos(np.pi * t))).astype(np.float32)
