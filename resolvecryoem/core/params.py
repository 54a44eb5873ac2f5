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
import os
import typing
from dataclasses import dataclass, field
from typing import Optional

from .errors import InputError

# Fields that describe what is in the map rather than how to process it; the protocol shows
# them on its input page, the rest in its expert section.
CONTENT_FIELDS = ("copies", "molecular_mass", "solvent_fraction")


def _p(default, help, **extra):
    return field(default=default, metadata=dict(help=help, **extra))


@dataclass
class DensityModificationParams:
    """Parameters of a density-modification run (units in the names or help texts)."""

    # --- what is in the map -----------------------------------------------------------------
    copies: int = _p(1, "Copies of the sequence in the map (use when the sequence file holds "
                        "one copy of a multimer).")
    molecular_mass: Optional[float] = _p(
        None, "Molecular mass in the map, in Da (all copies). Used when no sequence is given.")
    solvent_fraction: Optional[float] = _p(
        None, "Fraction of the INPUT box that is solvent (0-1). Used when neither a sequence "
              "nor a mass is given; recomputed for the trimmed box.")

    # --- resolution -------------------------------------------------------------------------
    resolution: Optional[float] = _p(
        None, "Nominal resolution in A. Empty or 0: where the half-map FSC falls below 0.143. "
              "Try a slightly different value if the default result is disappointing.")
    dm_resolution: Optional[float] = _p(
        None, "Resolution in A to which density modification extends. Empty or 0: automatic "
              "(dm_resolution_ratio x resolution). Its exact value matters; try +-10%.")
    dm_resolution_ratio: float = _p(
        0.6, "Automatic dm_resolution = this ratio x resolution (finer than the FSC "
             "resolution, as the reference program does).")

    # --- boxing -----------------------------------------------------------------------------
    box_before_analysis: bool = _p(
        True, "Trim the maps to the molecule plus a cushion before analysis. Turn off for maps "
              "already boxed tightly, or for filaments crossing the whole box.")
    box_cushion: float = _p(5.0, "Cushion around the molecule when boxing, in A.")

    # --- sharpening before density modification ----------------------------------------------
    density_modify_unsharpened_maps: bool = _p(
        False, "Density-modify the half maps without half-map sharpening (only the overall "
               "B and anisotropy are adjusted). Sometimes better for maps finer than 3 A.")
    b_iso: Optional[float] = _p(
        None, "Target overall B (A^2) imposed on the maps before density modification "
              "(amplitudes fall as exp(-B s^2/4)). Empty: target_b_ratio x resolution.")
    target_b_ratio: float = _p(10.0, "b_iso = target_b_ratio x resolution when b_iso is empty.")
    remove_aniso: bool = _p(True, "Remove anisotropy of the amplitudes before density "
                                  "modification.")

    # --- density modification ---------------------------------------------------------------
    cycles: int = _p(
        3, "Cycles of map-likelihood phasing and recombination. Each cycle starts from the "
           "recombined half map of the previous one, brought back to the original's shell "
           "amplitudes. More cycles: slightly better maps, each costs about 4 FFTs.")
    use_molecule_histogram: bool = _p(
        True, "Use the density histogram of the molecule region in the likelihood. Off, "
              "the molecule region is flat and density modification reduces to solvent "
              "flipping (kept for comparison).")
    real_space_weighting: bool = _p(
        False, "Weight original and density-modified maps locally by the smoothed rms of "
               "their half-map differences. May add correlation between half maps. On the "
               "benchmark's simulated maps it made the result worse (0.1-0.2 A).")
    sigma_weighting: bool = _p(
        False, "Weight each final Fourier coefficient by its variance among the four maps. "
               "May add correlation between half maps. On the benchmark's simulated maps it "
               "made the result worse (0.05-0.1 A).")

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
        False, "Weight each resolution band of the final map by the local correlation of "
               "the original half maps, so poorer regions lose their noisy fine detail; also "
               "writes local_resolution.mrc. It lowered FSC against the truth by 0.03-0.13 A "
               "on the benchmark: a map for looking at, not for refinement.")
    blur_by_resolution: bool = _p(
        False, "Blur the final map slightly, by B = 2 x resolution A^2.")
    final_solvent_flattening: bool = _p(
        True, "Set the solvent of the final map to its mean outside a soft mask (the "
              "molecule region dilated by about 2.5 x resolution). Off: the solvent keeps the "
              "part of the original maps' noise that the recombination passes on. The "
              "density-modified half maps are not flattened.")

    # --- options whose core is not built yet ------------------------------------------------
    density_modify_with_model: bool = _p(
        False, "Model-based density modification with automatically generated models "
               "(not available yet).")
    symmetry: Optional[str] = _p(
        None, "Point-group symmetry not used in the reconstruction, averaged in density "
              "modification: C<n>, D<n> (2-fold along x), Dy<n> (along y), T, O or I, about "
              "the centre of the box (voxel n/2), n-fold axis along z. Or a symmetry file.")

    # --- computing --------------------------------------------------------------------------
    nproc: int = _p(0, "Threads for FFTs. 0: all cores of this machine.")

    def __post_init__(self):
        self.validate()

    # ------------------------------------------------------------------------------------
    def validate(self):
        """Raise InputError for values no run could use."""
        for name in ("resolution", "dm_resolution"):
            if getattr(self, name) == 0:
                setattr(self, name, None)  # 0 means automatic, as in the reference program
        for name in ("resolution", "dm_resolution", "molecular_mass"):
            v = getattr(self, name)
            if v is not None and not v > 0:
                raise InputError(f"{name} must be positive, got {v}")
        if self.b_iso is not None and not self.b_iso == self.b_iso:
            raise InputError("b_iso is not a number")
        if self.solvent_fraction is not None and not 0.0 < self.solvent_fraction < 1.0:
            raise InputError(f"solvent_fraction must lie between 0 and 1, got "
                             f"{self.solvent_fraction}")
        if self.copies < 1:
            raise InputError(f"copies must be at least 1, got {self.copies}")
        if self.cycles < 1:
            raise InputError(f"cycles must be at least 1, got {self.cycles}")
        if not 0.3 <= self.dm_resolution_ratio <= 1.5:
            raise InputError(f"dm_resolution_ratio {self.dm_resolution_ratio} is outside "
                             f"0.3-1.5")
        if self.density_modify_with_model:
            raise InputError("density_modify_with_model: model-based density modification "
                             "is not available yet")
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
