"""Model-based density modification as one more stage: the functions a pipeline, the command
line or a Scipion step calls (ALGORITHM.md section 9; the reference manual's "Procedure used by
resolve_cryo_em for density modification with model-building").

Units of work, each independent and serialisable:

1. :func:`load_model` - read and check the model against the map (once).
2. :func:`refine_one` - ONE copy (half map h, copy k) refined against half map h only;
   :func:`save_copy` / :func:`load_copy` move it through files (mmCIF + JSON figures), so each
   can be a separate Scipion step or queue job.  :func:`refine_copies` runs a half's copies
   one after the other.
3. :func:`model_half_map` - half h's composite half map: its density-modified half map moved
   towards the model target where the models are (half h's copies, half h's map and per-shell
   scalars of the other half only).  It takes the place of half h's map-phasing coefficients
   in the four-map recombination (pipeline ``finish``), whose weights, estimated against the
   other ORIGINAL half map, decide how far it is trusted.  :func:`composite_target` gives the
   target alone, also in the form likelihood.map_phasing(target=(tau, var)) accepts.
4. :func:`model_map_fsc` - map-model FSC of a half's models against a map (the other
   original half map for the honest figure).
5. :func:`composite_model` - one model summarising all copies (mean coordinates, per-atom B
   from their spread, mean occupancy), written as mmCIF.

Wiring into the pipeline (as benchmarks/model_bench.py does it by hand): after the standard
run's modify_half for both halves, with the state's O1, O2, D1, D2 (boxed, sharpened):
W_i = recombination.half_weights(O_i, O_j, D_i, shells); C_i = W_i.apply(O_i, D_i, shells)
(the standard density-modified half map); copies_i = refine_copies(model, irfft(C_i), ...)
(or refine_one per (half, copy) as separate steps); D_i' = model_half_map(model, copies_i,
C_i, shape, O1, O2, i, W_i.cc_ref, voxel, boxed start, resolution, keep)[0]; then finish with
D_i' in place of D_i.  The standard run's finish (before the swap) gives
denmod_map_no_model.mrc.  Coordinates are in the input's frame: the boxed map's start is the
input start plus box.lower x voxel.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import gemmi
import numpy as np

from ..errors import InputError
from ..fourier import Shells, irfft, rfft
from . import structure as _st
from .ensemble import B_ATOM, ensemble
from .refinement import RefinedCopy, prepare_map, refine_copy  # noqa: F401 (API)
from .restraints import distance_restraints, nonbonded_pairs
from .target import composite_half_map, half_target, shell_statistics

# Randomised copies of a supplied model per half map.  The manual uses 8; 4 give the same
# figures (benchmarks/model_bench.py --route pipeline, 1AKE and 5ME2 at 3.5 A, perfect and
# flawed models: FSC(truth)=0.5 inside the envelope, phantom, displaced-segment and missing-
# region rows equal within 0.01) at half the refinement time.
N_COPIES = 4
# Automatically built models per half map: one per builder variant of the half map
# (pipeline.AUTO_MODEL_VARIANTS); not changed with N_COPIES (not measured with fewer).
N_BUILT = 8
SHIFT_A = 0.3


@dataclass
class Model:
    """A checked model: the filtered Structure, its arrays, and what the checks found."""

    structure: gemmi.Structure
    atoms: _st.Atoms
    name: str
    warnings: list


def load_model(model, rho, voxel_size, start_A, resolution_A, operators=None,
               origin_field_A=None, name=None) -> Model:
    """Read (PDB/mmCIF), filter, expand by symmetry operators (x' = R x + t; a model of the
    unique part), check it lies in the map's box (InputError naming the file, the offset and
    the hint that fixes a frame/origin mix-up) and warn when it fits the map poorly.
    ``rho``: the map to judge the fit by (e.g. the half-map average), (z, y, x); None skips
    the checks (a later step reloading a model already checked)."""
    name = name or str(model)
    st = _st.read_structure(model, name)
    if operators:
        st = _st.expand_symmetry(st, operators)
    atoms = _st.atoms_of(st)
    if rho is None:
        return Model(st, atoms, name, [])
    _st.check_fits_box(atoms.xyz, rho.shape, voxel_size, start_A, name, origin_field_A)
    warnings = []
    cc = _st.fit_correlation(atoms.xyz, atoms.z, rho, voxel_size, start_A, resolution_A)
    w = _st.poor_fit_warning(cc, name)
    if w:
        warnings.append(w)
    return Model(st, atoms, name, warnings)


def copy_seed(seed: int, half: int, copy: int) -> tuple:
    """The random stream of copy ``copy`` of half ``half``: independent of every other."""
    return (int(seed), int(half), int(copy))


def refinement_cache(model: Model, rmap) -> dict:
    """What every copy of one half map shares: the model's restraints and repulsion pairs
    (from the starting model, the same for every copy) and the prepared half map
    (:func:`prepare_map`); passed to :func:`refine_one` as ``_cache``."""
    restraints = distance_restraints(model.atoms)
    return dict(restraints=restraints, nonbonded=nonbonded_pairs(model.atoms, restraints),
                rmap=rmap)


def refine_one(model: Model, half_map: np.ndarray, voxel_size, start_A, resolution_A: float,
               half: int, copy: int, seed: int = 0, shift_A: float = SHIFT_A,
               threads: int = 1, _cache=None) -> RefinedCopy:
    """Copy ``copy`` of the model, randomised (seeded by (seed, half, copy)) and refined
    against ``half_map`` (half ``half``'s density-modified half map) ALONE.  ``_cache``:
    :func:`refinement_cache` of this model and half map (computed here when None)."""
    cache = _cache if _cache is not None else refinement_cache(
        model, prepare_map(half_map, voxel_size, start_A, resolution_A, threads=threads))
    c = refine_copy(model.atoms, half_map, voxel_size, start_A, resolution_A,
                    seed=copy_seed(seed, half, copy), shift_A=shift_A, threads=threads,
                    **cache)
    c.figures.update(half=half, copy=copy)
    return c


def refine_copies(model: Model, half_map, voxel_size, start_A, resolution_A: float, half: int,
                  n_copies: int = N_COPIES, seed: int = 0, shift_A: float = SHIFT_A,
                  threads: int = 1, log=None) -> list:
    """All copies of one half map, one after the other (map and restraints prepared once)."""
    cache = refinement_cache(model, prepare_map(half_map, voxel_size, start_A, resolution_A,
                                                threads=threads))
    out = []
    for k in range(n_copies):
        c = refine_one(model, half_map, voxel_size, start_A, resolution_A, half, k, seed,
                       shift_A, threads, _cache=cache)
        if log:
            f = c.figures
            log(f"half map {half} model {k + 1}/{n_copies}: map correlation "
                f"{f['map_correlation']:.3f}, rmsd from start {f['rmsd_from_start_A']:.2f} A, "
                f"bond rmsd {f['bond_rmsd_A']:.3f} A, {f['seconds']:.1f} s")
        out.append(c)
    return out


def save_copy(path, model: Model, c: RefinedCopy) -> None:
    """The copy at ``path``: mmCIF (coordinates, occupancy) or, for a name ending in .npz,
    its coordinates and occupancies alone (exact, and read back 10-100x faster than mmCIF
    is parsed: for copies that share the model's atoms); the figures beside it (.json)."""
    path = Path(path)
    if path.suffix == ".npz":
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, xyz=c.xyz, occ=c.occ)
        tmp.replace(path)
    else:
        _st.write_structure(_st.with_coordinates(model.structure, c.xyz, occ=c.occ), path)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(c.figures, indent=1))
    tmp.replace(path.with_suffix(".json"))


def load_copy(path, model: Model) -> RefinedCopy:
    """A copy written by :func:`save_copy`, checked against the model's atoms."""
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path) as f:
            xyz, occ = f["xyz"], f["occ"]
    else:
        st = gemmi.read_structure(str(path))
        st.remove_alternative_conformations()
        a = _st.atoms_of(st)
        xyz, occ = a.xyz, a.occ
    if len(xyz) != model.atoms.n:
        raise InputError(f"{path}: {len(xyz)} atoms, the model has {model.atoms.n}")
    figs = path.with_suffix(".json")
    figures = json.loads(figs.read_text()) if figs.exists() else {}
    return RefinedCopy(xyz, occ, figures)


def composite_target(model: Model, copies: list, rho_i: np.ndarray, O_1: np.ndarray,
                     O_2: np.ndarray, which: int, voxel_size, start_A, resolution_A: float,
                     keep=1.0, stats=None, concentrate: bool = True,
                     threads: int = 1) -> tuple:
    """(HalfTarget, ShellStatistics) of half ``which``.

    ``copies``: half ``which``'s refined copies; ``rho_i``: half ``which``'s map as the
    likelihood sees it (z, y, x, on the scale of the sharpened half maps); ``O_1``, ``O_2``:
    the sharpened original half-map spectra (rfftn), used for per-shell scalars only;
    ``keep``: the density-modification low-pass.  ``stats`` given: used as is (then O_1, O_2
    are not read at all).  ``target.tau``, ``target.var`` go to map_phasing(target=(tau, var)).
    """
    shape = rho_i.shape
    shells = Shells.for_box(shape, voxel_size)
    ens = ensemble(model.structure, copies, shape, voxel_size, start_A)
    if stats is None:
        stats = shell_statistics(rfft(ens.mean, threads), O_1, O_2, which, shells)
    t = half_target(ens, rho_i, stats, shells, keep, resolution_A, concentrate, threads)
    return t, stats


def model_half_map(model: Model, copies: list, C_i: np.ndarray, shape, O_1: np.ndarray,
                   O_2: np.ndarray, which: int, cc_i: np.ndarray, voxel_size, start_A,
                   resolution_A: float, keep=1.0, stats=None, trust: float = 1.0,
                   threads: int = 1) -> tuple:
    """(composite spectrum, HalfTarget, ShellStatistics) of half ``which``.

    ``C_i``: half ``which``'s density-modified half map (spectrum of a map of ``shape``,
    sharpened scale: the standard run's w_o O_i + w_d D_i); ``cc_i``: its per-shell
    correlation with the truth as the recombination estimates it (Weights.cc_ref);
    ``O_1``, ``O_2``: for per-shell scalars only (see :func:`composite_target`).  The
    composite goes into the recombination in place of D_i.
    """
    rho_i = irfft(C_i * keep, shape, threads)
    target, stats = composite_target(model, copies, rho_i, O_1, O_2, which, voxel_size,
                                     start_A, resolution_A, keep, stats, threads=threads)
    shells = Shells.for_box(shape, voxel_size)
    comp = composite_half_map(C_i, target, stats, cc_i, shells, keep, trust, threads)
    return comp, target, stats


def model_map_fsc(model: Model, copies: list, F: np.ndarray, shape, voxel_size, start_A,
                  density=None) -> tuple:
    """(FSC curve, resolution at FSC = 0.5) of the mean density of ``copies`` against a map
    spectrum ``F`` (rfftn of a map of ``shape``).  Pass the OTHER original half map for the
    honest figure (half 1's models against half 2): against its own half map a model's fit
    to that half's noise inflates the FSC.  ``density``: that mean density when already
    computed (HalfTarget.model_mean); ``copies`` is then not used."""
    from ..fsc import fsc, resolution_at
    shells = Shells.for_box(shape, voxel_size)
    if density is None:
        density = ensemble(model.structure, copies, shape, voxel_size, start_A).mean
    curve = fsc(rfft(density), F, shells)
    return curve, resolution_at(curve, shells, 0.5)


def composite_model(model: Model, copies: list, path=None, b_base: float = B_ATOM
                    ) -> gemmi.Structure:
    """One model: mean coordinates over all copies, per-atom B = b_base + 8 pi^2 <u^2> / 3
    from their spread (<u^2> the mean square displacement from the mean, over x, y, z; b_base
    the B every copy's density was computed with, so the composite's density is comparable
    and its sharpest atoms do not alias on the map's grid), occupancy the mean of the
    copies'.  Written as mmCIF at ``path`` when given."""
    xyz = np.stack([c.xyz for c in copies])
    mean = xyz.mean(0)
    msd = np.mean(np.sum((xyz - mean) ** 2, axis=2), axis=0)
    b = b_base + 8 * np.pi ** 2 * msd / 3.0
    occ = np.mean([c.occ for c in copies], axis=0)
    st = _st.with_coordinates(model.structure, mean, b=b, occ=occ)
    if path is not None:
        _st.write_structure(st, path)
    return st
