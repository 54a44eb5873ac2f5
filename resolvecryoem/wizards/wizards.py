"""Wizards on the ProtResolveCryoEM form: resolution from the half maps, solvent fraction from
the sequence.  The numbers come from the core; the wizards only fill the form."""
import numpy as np
from pwem.wizards import EmWizard

from ..core import mapio, sequence
from ..core.pipeline import half_map_resolution
from ..protocols import ProtResolveCryoEM


def estimate_resolution(protocol) -> float:
    """Half-map FSC = 0.143 resolution (A) of the protocol's selected half maps, at Scipion's
    sampling rate (resolutions scale with the voxel size; the headers may hold another)."""
    h1, h2 = protocol.getHalfMapPaths()
    header = mapio.read_map(h1, header_only=True)[1].voxel_size
    scale = protocol.getSamplingRate() / float(max(header))
    return round(half_map_resolution(h1, h2) * scale, 2)


def estimate_solvent_fraction(protocol) -> tuple:
    """(solvent fraction of the half maps' box, molecular mass in Da) from the selected
    sequence and copies."""
    seq = protocol.inputSequence.get()
    chains = sequence.parse_sequence_text(f">{seq.getSeqName() or 'sequence'}\n"
                                          f"{seq.getSequence()}\n", "the selected sequence")
    copies = int(protocol.copies.get() or 1)
    mass = sequence.molecular_mass(chains, copies)
    info = mapio.read_map(protocol.getHalfMapPaths()[0], header_only=True)[1]
    box_volume_A3 = float(np.prod(info.shape)) * protocol.getSamplingRate() ** 3
    fraction = sequence.solvent_fraction(sequence.molecular_volume(chains, copies),
                                         box_volume_A3)
    return round(fraction, 3), mass


class ResolveCryoEMResolutionWizard(EmWizard):
    """Fill 'resolution' with the half-map FSC = 0.143 resolution."""
    _targets = [(ProtResolveCryoEM, ["resolution"])]

    def show(self, form, *args):
        form.setVar("resolution", estimate_resolution(form.protocol))


class ResolveCryoEMSolventFractionWizard(EmWizard):
    """Fill 'solventFraction' from the sequence and copies, and show the mass."""
    _targets = [(ProtResolveCryoEM, ["solventFraction"])]

    def show(self, form, *args):
        fraction, mass = estimate_solvent_fraction(form.protocol)
        form.setVar("solventFraction", fraction)
        try:
            from pyworkflow.gui.dialog import showInfo
            showInfo("Solvent fraction", f"Molecular mass {mass / 1000:.1f} kDa; solvent "
                     f"fraction of the half maps' box {fraction:.3f}", form.root)
        except Exception:  # no display (scripted use): the value is set all the same
            pass
