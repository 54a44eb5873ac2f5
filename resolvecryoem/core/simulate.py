"""Half maps with a known truth, made from atomic models (tests, the example, the benchmark).

The half maps are what a refinement gives before masking: the molecule's density with an
overall B and a local resolution that varies across the molecule, plus noise over the WHOLE
box, independent between the halves, with a spectrum chosen so that the half-map FSC falls
smoothly and crosses 0.143 at the requested resolution.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from .fourier import Shells, irfft, rfft
from .fsc import power

# Noise-to-signal power ratio at the resolution for FSC = 0.143: FSC = 1 / (1 + N/S).
_NS_AT_RESOLUTION = 1.0 / 0.143 - 1.0


def noise_to_signal(shells: Shells, resolution_A: float, steepness: float = 7.0,
                    low_res_ns: float = 0.02) -> np.ndarray:
    """Per-shell N/S power ratio: (1/0.143 - 1) exactly at s = 1/d, rising as
    exp(steepness ((s d)^2 - 1)) like the signal's B-factor fall-off over white noise, and
    never below ``low_res_ns``.  steepness 7 puts the half-map FSC = 0.5 near 1.15 d, as in
    typical refinements."""
    x = (shells.s * resolution_A) ** 2 - 1.0
    return low_res_ns + _NS_AT_RESOLUTION * np.exp(steepness * x)


def simulate_half_maps(truth: np.ndarray, voxel_size, resolution_A: float, seed: int = 0,
                       b_overall: float = 60.0, local_b_spread: float = 60.0,
                       steepness: float = 7.0, threads: int = 1):
    """(half1, half2, signal): float32 unmasked half maps and the blurred signal in them.

    The signal is the truth with an overall B of ``b_overall`` on one side of the molecule
    rising smoothly to ``b_overall + local_b_spread`` on the other (along a random direction),
    so the local resolution varies.  Noise: Gaussian, over the whole box, independent per half,
    coloured so that FSC(half1, half2) = S/(S+N) crosses 0.143 at ``resolution_A``.
    Deterministic for a seed.  The score of a method is FSC against ``truth`` (the
    unblurred model density), which no blurring or sharpening changes shell by shell.
    """
    rng = np.random.default_rng(seed)
    shells = Shells.for_box(truth.shape, voxel_size)
    T = rfft(truth, threads)
    s2 = shells.s_grid ** 2
    sharp = irfft(T * np.exp(-b_overall * s2 / 4), truth.shape, threads)
    soft = irfft(T * np.exp(-(b_overall + local_b_spread) * s2 / 4), truth.shape, threads)
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    grids = np.meshgrid(*[np.linspace(-1, 1, n, dtype=np.float32) for n in truth.shape],
                        indexing="ij")
    w = 0.5 * (1 + np.clip(sum(g * d for g, d in zip(grids, direction)), -1, 1))
    signal = ((1 - w) * sharp + w * soft).astype(np.float32)
    S = rfft(signal, threads)
    noise_amp = shells.expand(np.sqrt(power(S, shells)
                                      * noise_to_signal(shells, resolution_A, steepness)))
    halves = []
    for _ in range(2):
        n = rfft(rng.standard_normal(truth.shape, dtype=np.float32), threads)
        n *= np.float32(1.0 / np.sqrt(truth.size))  # unit power per coefficient
        halves.append(irfft(S + n * noise_amp, truth.shape, threads))
    return halves[0], halves[1], signal


@dataclass
class ExampleCase:
    half_map_1: np.ndarray
    half_map_2: np.ndarray
    truth: np.ndarray
    envelope: np.ndarray
    voxel_size: float
    start_A: np.ndarray
    resolution_A: float
    sequence: str
    molecular_mass_Da: float
    paths: dict


def bundled_model() -> Path:
    """The example model shipped with the package (adenylate kinase, PDB 1AKE, heavy atoms)."""
    return Path(str(resources.files("resolvecryoem") / "data" / "adk_1ake.pdb"))


def example_case(out_dir=None, box: int = 64, resolution_A: float = 4.0, seed: int = 0,
                 model=None, voxel_A: float | None = None) -> ExampleCase:
    """Half maps of a real protein model with known truth.

    The voxel size is chosen so the model's longest extent plus 40% fits the box (the molecule
    then fills roughly 20-40% of it), unless ``voxel_A`` is given (a larger box around the
    same molecule: one that a run boxes).  With ``out_dir``, writes ``half_map_1.mrc``,
    ``half_map_2.mrc``, ``truth.mrc``, ``envelope.mrc`` and ``sequence.fasta`` there.
    """
    from . import mapio, sequence
    from .model_map import atom_positions, model_density, model_envelope, read_model

    model = model or bundled_model()
    xyz = atom_positions(model)
    extent = float(np.max(xyz.max(0) - xyz.min(0)))
    voxel = voxel_A or round(max(extent * 1.4 / box, resolution_A / 4.0), 3)
    centre = 0.5 * (xyz.max(0) + xyz.min(0))  # x, y, z
    start = (centre[::-1] - 0.5 * box * voxel).round(2)  # z, y, x
    shape = (box, box, box)
    truth = model_density(model, shape, voxel, start)
    envelope = model_envelope(model, shape, voxel, start)
    h1, h2, _ = simulate_half_maps(truth, voxel, resolution_A, seed=seed)
    st = read_model(model)
    seq = "\n".join(f">{ch.name}\n" + gemmi_one_letter(ch) for ch in st[0])
    chains = sequence.parse_sequence_text(seq)
    case = ExampleCase(h1, h2, truth, envelope, voxel, start, resolution_A, seq,
                       sequence.molecular_mass(chains), {})
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        info = mapio.map_info(shape, voxel, start)
        for name, arr in (("half_map_1", h1), ("half_map_2", h2), ("truth", truth),
                          ("envelope", envelope)):
            case.paths[name] = out / f"{name}.mrc"
            mapio.write_map(case.paths[name], arr, info)
        case.paths["sequence"] = out / "sequence.fasta"
        mapio.atomic_write_text(case.paths["sequence"], seq + "\n")
    return case


def gemmi_one_letter(chain) -> str:
    """One-letter sequence of a gemmi chain's polymer residues."""
    import gemmi
    return gemmi.one_letter_code([r.name for r in chain]).replace("X", "") or "X"


def c2_dimer_model(shape, voxel_size: float, model=None):
    """A C2 dimer of a real model (gemmi Structure), 2-fold along z through the box centre.

    The model (by default the bundled 1AKE) is moved so that its centre lies half its x
    extent plus 2 A from the axis, and a copy turned by 180 degrees about the axis is added as
    chain B.  For a box starting at the origin, ``symmetry="C2"`` describes it exactly.
    """
    import gemmi

    from .model_map import atom_positions, read_model
    from .symmetry import box_centre_xyz

    st = read_model(model or bundled_model())
    xyz = atom_positions(st)
    c = box_centre_xyz(shape, (voxel_size,) * 3, np.zeros(3))
    shift = c - xyz.mean(0) + np.array([(xyz[:, 0].max() - xyz[:, 0].min()) / 2 + 2, 0, 0])
    st[0].transform_pos_and_adp(gemmi.Transform(gemmi.Mat33(), gemmi.Vec3(*shift)))
    R = np.diag([-1.0, -1.0, 1.0])
    mate = st.clone()
    mate[0].transform_pos_and_adp(gemmi.Transform(gemmi.Mat33(R.tolist()),
                                                  gemmi.Vec3(*(c - R @ c))))
    chain = mate[0][0]
    chain.name = "B"
    st[0].add_chain(chain)
    return st


def c2_dimer_case(box: int = 64, voxel_size: float = 1.8, resolution_A: float = 5.0,
                  seed: int = 3, model=None) -> ExampleCase:
    """Half maps (stationary noise) of :func:`c2_dimer_model`: symmetry that the simulated
    reconstruction did not use, for the symmetry tests and benchmarks/symmetry.py."""
    from . import sequence
    from .model_map import model_density, model_envelope

    shape, start = (box, box, box), np.zeros(3)
    st = c2_dimer_model(shape, voxel_size, model)
    truth = model_density(st, shape, voxel_size, start)
    envelope = model_envelope(st, shape, voxel_size, start)
    h1, h2, _ = simulate_half_maps(truth, voxel_size, resolution_A, seed=seed)
    one = gemmi_one_letter(st[0][0])
    seq = f">A\n{one}\n>B\n{one}"
    mass = sequence.molecular_mass(sequence.parse_sequence_text(seq))
    return ExampleCase(h1, h2, truth, envelope, voxel_size, start, resolution_A, seq, mass, {})
