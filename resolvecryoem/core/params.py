"""The one parameters object shared by the command line, the pipeline and the Scipion protocol.

Field names follow the keywords of the reference program's documentation
(``resolution``, ``dm_resolution``, ``box_before_analysis``, ...).  The command line turns
``field_name`` into ``--field-name`` (booleans as ``--flag/--no-flag``) and the Scipion
protocol into ``fieldName``: :func:`cli_flag` and :func:`protocol_name` are the only places
that spell those conversions, and a test keeps the three in step.

Every field carries its help text in ``metadata["help"]`` so that the command line and the
protocol form explain a keyword with the same words.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import os
import typing
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .errors import InputError

# Fields that describe what is in the map rather than how to process it; the protocol shows
# them on its input page, the rest in its expert section.
CONTENT_FIELDS = ("copies", "molecular_mass", "solvent_fraction")


# Limits of the numeric keywords.  Resolutions coarser than this are not density modification
# territory (the reference program was tested to 9 A); B factors beyond MAX_B_A2 leave no
# signal past ~10 A; dm_resolution / resolution is kept within the range allowed for
# dm_resolution_ratio, whose automatic value it replaces.
MAX_RESOLUTION_A = 100.0
MAX_B_A2 = 1000.0
DM_RATIO_RANGE = (0.3, 1.5)


def _p(default, help, **limits):
    """A field with its help text and, for numbers, its limits: ``minimum``/``maximum``
    (inclusive) and ``above``/``below`` (exclusive)."""
    return field(default=default, metadata=dict(help=help, **limits))


def limits_text(name: str) -> str:
    """The allowed range of a numeric keyword in words, e.g. ``"0 to 100"`` or ``""``."""
    m = param_metadata(name)
    lo = (f"above {m['above']:g}" if "above" in m else
          f"at least {m['minimum']:g}" if "minimum" in m else "")
    hi = (f"below {m['below']:g}" if "below" in m else
          f"at most {m['maximum']:g}" if "maximum" in m else "")
    return " and ".join(t for t in (lo, hi) if t)


def check_number(name: str, value):
    """``value`` as the keyword's type (int or float), or InputError naming the keyword: a
    number (not a flag, not text), finite, within the field's limits."""
    base, optional = field_type(name)
    if value is None:
        if optional:
            return None
        raise InputError(f"{name} needs a value")
    ok_types = (int, np.integer) if base is int else (int, float, np.integer, np.floating)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, ok_types):
        if base is int and isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)  # 3.0 from a form or a JSON file
        else:
            kind = "a whole number" if base is int else "a number"
            raise InputError(f"{name} must be {kind}, got {value!r}")
    value = base(value)
    if not math.isfinite(value):
        raise InputError(f"{name} must be a finite number, got {value}")
    m = param_metadata(name)
    if ("above" in m and not value > m["above"]) or ("below" in m and not value < m["below"]) \
            or ("minimum" in m and value < m["minimum"]) \
            or ("maximum" in m and value > m["maximum"]):
        if m.get("above") == 0 and value <= 0:
            raise InputError(f"{name} must be positive, got {value:g}")
        raise InputError(f"{name} must be {limits_text(name)}, got {value:g}")
    return value


def check_dm_resolution(dm_resolution_A: float, resolution_A: float) -> None:
    """dm_resolution within DM_RATIO_RANGE x resolution (InputError naming both keywords)."""
    lo, hi = DM_RATIO_RANGE
    r = dm_resolution_A / resolution_A
    if not lo - 1e-9 <= r <= hi + 1e-9:
        raise InputError(f"dm_resolution {dm_resolution_A:g} A is {r:.2f} x resolution "
                         f"({resolution_A:g} A); it must lie within {lo:g}-{hi:g} x "
                         f"resolution (finer than resolution extends density modification, "
                         f"coarser limits it)")


@dataclass
class DensityModificationParams:
    """Parameters of a density-modification run (units in the names or help texts)."""

    # --- what is in the map -----------------------------------------------------------------
    copies: int = _p(1, "Copies of the sequence in the map (use when the sequence file holds "
                        "one copy of a multimer).", minimum=1)
    molecular_mass: Optional[float] = _p(
        None, "Molecular mass in the map, in Da (all copies). Used when no sequence is given.",
        above=0.0)
    solvent_fraction: Optional[float] = _p(
        None, "Fraction of the INPUT box that is solvent (0-1). Used when neither a sequence "
              "nor a mass is given; recomputed for the trimmed box.", above=0.0, below=1.0)

    # --- resolution -------------------------------------------------------------------------
    resolution: Optional[float] = _p(
        None, "Nominal resolution in A. Empty or 0: where the half-map FSC falls below 0.143. "
              "Try a slightly different value if the default result is disappointing.",
        above=0.0, maximum=MAX_RESOLUTION_A)
    dm_resolution: Optional[float] = _p(
        None, "Resolution in A to which density modification extends. Empty or 0: automatic "
              "(dm_resolution_ratio x resolution). Its exact value matters; try +-10%.",
        above=0.0, maximum=MAX_RESOLUTION_A)
    dm_resolution_ratio: float = _p(
        0.6, "Automatic dm_resolution = this ratio x resolution (finer than the FSC "
             "resolution, as the reference program does).",
        minimum=DM_RATIO_RANGE[0], maximum=DM_RATIO_RANGE[1])

    # --- boxing -----------------------------------------------------------------------------
    box_before_analysis: bool = _p(
        True, "Trim the maps to the molecule plus a cushion before analysis. Turn off for maps "
              "already boxed tightly, or for filaments crossing the whole box.")
    box_cushion: float = _p(5.0, "Cushion around the molecule when boxing, in A.",
                            minimum=0.0, maximum=100.0)

    # --- sharpening before density modification ----------------------------------------------
    density_modify_unsharpened_maps: bool = _p(
        False, "Density-modify the half maps without half-map sharpening (only the overall "
               "B and anisotropy are adjusted). Sometimes better for maps finer than 3 A.")
    b_iso: Optional[float] = _p(
        None, "Target overall B (A^2) imposed on the maps before density modification "
              "(amplitudes fall as exp(-B s^2/4)). Empty: target_b_ratio x resolution.",
        minimum=0.0, maximum=MAX_B_A2)
    target_b_ratio: float = _p(10.0, "b_iso = target_b_ratio x resolution when b_iso is empty.",
                               minimum=0.0, maximum=100.0)
    remove_aniso: bool = _p(True, "Remove anisotropy of the amplitudes before density "
                                  "modification.")

    # --- density modification ---------------------------------------------------------------
    cycles: int = _p(
        3, "Cycles of map-likelihood phasing and recombination. Each cycle starts from the "
           "recombined half map of the previous one, brought back to the original's shell "
           "amplitudes. More cycles: slightly better maps, each costs about 4 FFTs.",
        minimum=1, maximum=100)
    use_molecule_histogram: bool = _p(
        True, "Use the density histogram of the molecule region in the likelihood. Off, "
              "the molecule region is flat and density modification reduces to solvent "
              "flipping (kept for comparison).")
    real_space_weighting: bool = _p(
        False, "Weight original and density-modified maps locally by the smoothed rms of "
               "their half-map differences (the same weights for both halves). On the "
               "simulated 1AKE 3.5 A maps of benchmarks/honesty.py it made the delivered map "
               "worse by 0.15 A (whole box) and 0.14 A (inside the molecule) with stationary "
               "noise, by 0.02 A with reconstruction-like noise.")
    sigma_weighting: bool = _p(
        False, "Weight each Fourier coefficient of a half map by the agreement of its "
               "original and density-modified estimates. On the simulated 1AKE 3.5 A maps of "
               "benchmarks/honesty.py it made the delivered map worse by 0.04 A (whole box "
               "and inside) with stationary noise, 0.03 A with reconstruction-like noise.")

    # --- final sharpening -------------------------------------------------------------------
    final_scale_with_fsc_ref: bool = _p(
        True, "Scale the final map in resolution shells by the estimated correlation with the "
              "true map (CC_ref). Off: part-way between half-map sharpening and flat "
              "amplitudes; sometimes better finer than 3 A.")
    geometric_scaling: bool = _p(
        True, "Set shell amplitudes part-way (geometric mean) between the scaled half maps "
              "and flat amplitudes matching the low-resolution shell.")
    spectral_scaling: bool = _p(
        True, "Scale the final map to the resolution dependence of a typical macromolecule.")
    local_sharpening: bool = _p(
        False, "Weight each resolution band of the final map (and of each half map, with "
               "the same weights) by the local correlation of the original half maps, so "
               "poorer regions lose their noisy fine detail; also writes "
               "local_resolution.mrc. On the simulated 1AKE 3.5 A maps of "
               "benchmarks/honesty.py it changed FSC against the truth by at most 0.01 A "
               "(stationary and reconstruction-like noise).")
    blur_by_resolution: bool = _p(
        False, "Blur the final map slightly, by B = 2 x resolution A^2.")
    final_solvent_flattening: bool = _p(
        True, "Set the solvent of the final map to its mean outside a soft mask (the "
              "molecule region dilated by about 2.5 x resolution). Off: the solvent keeps the "
              "part of the original maps' noise that the recombination passes on. The "
              "density-modified half maps are flattened with the same mask.")

    # --- models ------------------------------------------------------------------------------
    density_modify_with_model: bool = _p(
        False, "Model-based density modification with models built automatically (when no "
               "model file is given): 8 variants of each density-modified half map, a model "
               "built into each and refined against that half map only (with symmetry, "
               "built in one asymmetric unit and expanded). Recommended at "
               "about 3.5 A or better; at resolutions the builder cannot use it says so and "
               "keeps the standard result.")
    model_sharpening: bool = _p(
        False, "With a model (a model file or density_modify_with_model): scale the final map "
               "and both half maps, shell by shell, to CC_ref x the shell amplitudes of the "
               "refined models' density (every atom at B 20 A^2) instead of geometric and "
               "spectral scaling; FSCs and the reported resolution are unchanged. Off by "
               "default: on the simulated 3.5 A maps of benchmarks/model_bench.py (perfect "
               "and flawed models) it changed the real-space correlation with the true map "
               "inside the molecule by +0.004 to +0.005 on 1AKE and by -0.001 to -0.003 on "
               "5ME2 (whole box +0.0004 to +0.002 and -0.002 to -0.005): the fall-off it "
               "sets is the models' B, a prior, not a measurement of the true map's. Needs "
               "a model file or density_modify_with_model.")
    symmetry: Optional[str] = _p(
        None, "Point-group symmetry not used in the reconstruction, averaged in density "
              "modification: C<n>, D<n> (2-fold along x), Dy<n> (along y), T, O or I, about "
              "the centre of the box (voxel n/2), n-fold axis along z. Or a symmetry file.")

    # --- geometry ---------------------------------------------------------------------------
    voxel_size: Optional[float] = _p(
        None, "Voxel size in A, overriding the map headers (e.g. a recalibrated pixel size; "
              "Scipion passes its sampling rate). Empty: from the headers. The outputs are "
              "written with it.", above=0.0, maximum=100.0)

    # --- computing --------------------------------------------------------------------------
    nproc: int = _p(0, "Threads for FFTs. 0: all cores of this machine.", minimum=0,
                    maximum=4096)

    def __post_init__(self):
        self.validate()

    # ------------------------------------------------------------------------------------
    def validate(self):
        """Raise InputError, naming the keyword, for values no run could use: every number
        finite and within its limits, dm_resolution against resolution, symmetry readable."""
        for name in ("resolution", "dm_resolution"):
            v = getattr(self, name)
            if v is not None and not isinstance(v, (bool, str)) and v == 0:
                setattr(self, name, None)  # 0 means automatic, as in the reference program
        for f in dataclasses.fields(self):
            base, _ = field_type(f.name)
            if base in (int, float):
                setattr(self, f.name, check_number(f.name, getattr(self, f.name)))
            elif base is bool and not isinstance(getattr(self, f.name), (bool, np.bool_)):
                raise InputError(f"{f.name} must be True or False, got "
                                 f"{getattr(self, f.name)!r}")
        if self.resolution is not None and self.dm_resolution is not None:
            check_dm_resolution(self.dm_resolution, self.resolution)
        if self.symmetry is not None and not isinstance(self.symmetry, str):
            raise InputError(f"symmetry must be a symbol such as C2 or D7, got "
                             f"{self.symmetry!r}")
        if self.symmetry:
            from .symmetry import point_group
            point_group(self.symmetry)  # InputError for a symbol it cannot read

    @property
    def threads(self) -> int:
        """Worker threads for scipy.fft (nproc, or every core when 0)."""
        return self.nproc if self.nproc > 0 else (os.cpu_count() or 1)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DensityModificationParams":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise InputError(f"unknown parameters: {', '.join(sorted(unknown))}")
        return cls(**d)


def param_fields():
    """The dataclass fields, in declaration order."""
    return dataclasses.fields(DensityModificationParams)


def param_metadata(name: str) -> dict:
    """Help text and limits of a parameter."""
    return dict(_FIELDS[name].metadata)


@functools.lru_cache(maxsize=None)
def field_type(name: str) -> tuple:
    """(base type, optional) of a parameter: ``Optional[float]`` -> (float, True)."""
    t = typing.get_type_hints(DensityModificationParams)[name]
    args = [a for a in typing.get_args(t) if a is not type(None)]
    return (args[0], True) if args else (t, False)


def cli_flag(name: str) -> str:
    """Command-line flag of a parameter: ``molecular_mass`` -> ``--molecular-mass``."""
    return "--" + name.replace("_", "-")


def protocol_name(name: str) -> str:
    """Scipion protocol attribute of a parameter: ``molecular_mass`` -> ``molecularMass``."""
    head, *rest = name.split("_")
    return head + "".join(w[:1].upper() + w[1:] for w in rest)


_FIELDS = {f.name: f for f in dataclasses.fields(DensityModificationParams)}
