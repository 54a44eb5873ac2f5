"""Scipion protocol: density modification of a map from its two half maps.

Thin by design: it gathers inputs, calls :mod:`resolvecryoem.core.pipeline` stage by stage,
and registers outputs.  The two half maps are density-modified in independent steps, so
Scipion can run them concurrently or as separate queue jobs.
"""
import json
import os

import pyworkflow.protocol.params as params
from pwem.constants import SCIPION_SYM_NAME, SYM_CYCLIC
from pwem.objects import FSC, Transform, Volume
from pwem.protocols import ProtAnalysis3D
from pyworkflow import BETA
from pyworkflow.protocol import STEPS_PARALLEL

from ..core import checks, mapio
from ..core.errors import InputError
from ..core.params import (CONTENT_FIELDS, DensityModificationParams, field_type,
                           param_fields, protocol_name)
from ..core.pipeline import OUTPUTS, STATE, finish, modify_half, prepare
from ..core.symmetry import read_ncs_spec
from ..core.fsc import fsc_from_cc

# Dataclass fields that are on the input page or come from elsewhere on the form.
_FORM_FIELDS = set(CONTENT_FIELDS) | {"resolution", "dm_resolution", "nproc", "symmetry"}


def _path(obj):
    """File name of a Scipion object without a ':mrc'-style format suffix."""
    name = obj.getFileName()
    return name.split(":")[0] if name else name


class ProtResolveCryoEM(ProtAnalysis3D):
    """Density modification of a cryo-EM map from two UNMASKED half maps.

    Each half map is improved by map-likelihood phasing (flat solvent and the density
    histograms of solvent and molecule), the four maps are compared to estimate their errors,
    and they are recombined into density-modified half maps and a full map. The resolution
    estimate is corrected for the correlation that flattening introduces.
    """
    _label = "resolve cryo-EM density modification"
    _devStatus = BETA
    _possibleOutputs = {"outputVolume": Volume}
    stepsExecutionMode = STEPS_PARALLEL

    # --------------------------------------------------------------------------------------
    def _defineParams(self, form):
        form.addSection(label="Input")
        form.addParam("useHalfMapsFromVolume", params.BooleanParam, default=True,
                      label="Half maps attached to a volume?",
                      help="Yes: take the two half maps attached to a refined volume (the "
                           "usual output of a refinement). No: select the half maps as two "
                           "volumes.")
        form.addParam("inputVolume", params.PointerParam, pointerClass="Volume",
                      pointerCondition="hasHalfMaps", allowsNull=True,
                      condition="useHalfMapsFromVolume", label="Volume with half maps",
                      help="Only its two half maps are used (unmasked, with noise in the "
                           "solvent). Its own map is NOT used as the full map; supply that "
                           "as 'Full map' below if you want it recombined.")
        form.addParam("inputHalf1", params.PointerParam, pointerClass="Volume",
                      allowsNull=True, condition="not useHalfMapsFromVolume",
                      label="Half map 1")
        form.addParam("inputHalf2", params.PointerParam, pointerClass="Volume",
                      allowsNull=True, condition="not useHalfMapsFromVolume",
                      label="Half map 2")
        form.addParam("inputSequence", params.PointerParam, pointerClass="Sequence",
                      allowsNull=True, label="Sequence",
                      help="Sequence of the molecule: all chains, or one copy and 'copies'. "
                           "Or give the molecular mass or the solvent fraction instead.")
        for name in CONTENT_FIELDS:
            self._addDataclassParam(form, name)
        self._addDataclassParam(form, "resolution", label="Resolution (A)",
                                help_extra=" 0: estimate from the half maps (wizard).")
        self._addDataclassParam(form, "dm_resolution", label="Density modification "
                                "resolution (A)", help_extra=" 0: automatic.")

        form.addSection(label="Optional inputs")
        form.addParam("inputFullMap", params.PointerParam, pointerClass="Volume",
                      allowsNull=True, label="Full map",
                      help="Recombined with the density-modified half maps instead of the "
                           "half-map average. Helps when the full map was processed in a way "
                           "that makes it better than the average of the half maps.")
        form.addParam("inputMask", params.PointerParam, pointerClass="VolumeMask",
                      allowsNull=True, label="Mask",
                      help="1 where the molecule is, 0 elsewhere; same box as the half maps. "
                           "Try it when the map has big noise peaks or density that is not "
                           "part of the molecule.")
        form.addParam("inputModel", params.PointerParam, pointerClass="AtomStruct",
                      allowsNull=True, label="Atomic model",
                      help="Model-based density modification (not available yet).")
        form.addParam("symmetryGroup", params.EnumParam,
                      choices=list(SCIPION_SYM_NAME.values()), default=SYM_CYCLIC,
                      label="Symmetry",
                      help="Symmetry not used in the reconstruction, averaged during density "
                           "modification about the centre of the box (Scipion's convention). "
                           "Cn, Dxn, Dyn, T222, O and I222 are supported; C1 means none.")
        form.addParam("symmetryOrder", params.IntParam, default=1, label="Symmetry order",
                      condition="symmetryGroup<=%d" % 2)
        form.addParam("symmetryFile", params.FileParam, default="", label="Symmetry file",
                      help=".ncs_spec symmetry operators (Phenix find_ncs), used instead of "
                           "the symmetry group.")

        form.addSection(label="Density modification")
        for f in param_fields():
            if f.name not in _FORM_FIELDS:
                self._addDataclassParam(form, f.name, expertLevel=params.LEVEL_ADVANCED)
        form.addParallelSection(threads=2, mpi=0)

    def _addDataclassParam(self, form, name, label=None, help_extra="", **kwargs):
        """One form parameter per dataclass field, same help text (keyword names shared)."""
        f = next(f for f in param_fields() if f.name == name)
        t, optional = field_type(name)
        cls = {bool: params.BooleanParam, int: params.IntParam, float: params.FloatParam,
               str: params.StringParam}[t]
        default = f.default
        if optional and name in ("resolution", "dm_resolution"):
            default = 0.0  # 0 means automatic, as in the reference program
        form.addParam(protocol_name(name), cls, default=default, allowsNull=optional,
                      label=label or name.replace("_", " ").capitalize(),
                      help=f.metadata.get("help", "") + help_extra, **kwargs)

    # --------------------------------------------------------------------------------------
    def _insertAllSteps(self):
        p = self._insertFunctionStep(self.prepareStep)
        m1 = self._insertFunctionStep(self.modifyHalfStep, 1, prerequisites=[p])
        m2 = self._insertFunctionStep(self.modifyHalfStep, 2, prerequisites=[p])
        f = self._insertFunctionStep(self.finishStep, prerequisites=[m1, m2])
        self._insertFunctionStep(self.createOutputStep, prerequisites=[f])

    def prepareStep(self):
        seq = None
        if self.inputSequence.get() is not None:
            seq = self._getExtraPath("sequence.fasta")
            s = self.inputSequence.get()
            with open(seq, "w") as fh:
                fh.write(f">{s.getSeqName() or 'sequence'}\n{s.getSequence()}\n")
        h1, h2 = self.getHalfMapPaths()
        prepare(h1, h2, self._getOutDir(), self.getParams(), seq_file=seq,
                symmetry_file=self.symmetryFile.get() or None,
                full_map=_path(self.inputFullMap.get()) if self.inputFullMap.get() else None,
                mask=_path(self.inputMask.get()) if self.inputMask.get() else None,
                log=self.info)

    def modifyHalfStep(self, which):
        modify_half(os.path.join(self._getOutDir(), STATE), which, log=self.info)

    def finishStep(self):
        from ..core.validation import verdict
        finish(os.path.join(self._getOutDir(), STATE), log=self.info)
        v = verdict(self._getOutDir())
        with open(self._getExtraPath("verdict.json"), "w") as fh:
            json.dump(v.to_dict(), fh)
        self.info(v.summary())

    def createOutputStep(self):
        src = self._halfMapSource()
        out = self._getOutDir()
        vol = Volume()
        vol.setFileName(os.path.join(out, OUTPUTS["denmod_map"]))
        vol.setSamplingRate(src.getSamplingRate())
        origin = Transform()
        origin.setMatrix(src.getOrigin(force=True).getMatrix())
        vol.setOrigin(origin)
        vol.setHalfMaps([os.path.join(out, OUTPUTS["denmod_half_map_1"]),
                         os.path.join(out, OUTPUTS["denmod_half_map_2"])])
        fscs = self._createSetOfFSCs()
        r = self.getResults()
        s = r["fsc"]["s"]
        curves = [("half maps before (FSC)", r["fsc"]["half_maps_before"]),
                  ("after: corrected CC_ref as half-map FSC",
                   fsc_from_cc(r["fsc"]["cc_ref_after"]).tolist()),
                  ("independent: DM half 1 vs original half 2",
                   r["fsc"]["denmod_half_1_vs_original_half_2"]),
                  ("independent: DM half 2 vs original half 1",
                   r["fsc"]["denmod_half_2_vs_original_half_1"])]
        for label, y in curves:
            f = FSC(objLabel=label)
            f.setData(list(s), list(y))
            fscs.append(f)
        self._defineOutputs(outputVolume=vol, outputFSCs=fscs)
        for inp in self._inputPointers():
            self._defineSourceRelation(inp, vol)

    # --------------------------------------------------------------------------------------
    def getParams(self) -> DensityModificationParams:
        """The core's parameters from the form (camelCase attribute per dataclass field)."""
        values = {}
        for f in param_fields():
            if f.name in ("nproc", "symmetry"):
                continue
            v = getattr(self, protocol_name(f.name)).get()
            if f.name in ("resolution", "dm_resolution", "molecular_mass",
                          "solvent_fraction") and not v:
                v = None
            values[f.name] = v
        values["nproc"] = max(1, int(self.numberOfThreads.get() or 1))
        values["symmetry"] = self.getSymmetrySymbol()
        if self.inputSequence.get() is not None:
            values["molecular_mass"] = values["solvent_fraction"] = None
        return DensityModificationParams(**values)

    def getSymmetrySymbol(self):
        """The core's symmetry symbol for the form's group and order (None for C1)."""
        name = list(SCIPION_SYM_NAME.values())[self.symmetryGroup.get()]
        n = int(self.symmetryOrder.get() or 1)
        symbol = {"Cn": f"C{n}", "Dxn": f"D{n}", "Dyn": f"Dy{n}", "T222": "T", "O": "O",
                  "I222": "I"}.get(name)
        if symbol is None:
            raise InputError(f"Symmetry {name} is not available yet (Cn, Dxn, Dyn, T222, O "
                             f"and I222 are).")
        return None if symbol == "C1" else symbol

    def getHalfMapPaths(self):
        if self.useHalfMapsFromVolume:
            vol = self.inputVolume.get()
            if vol is None or not vol.hasHalfMaps():
                raise InputError("select a volume with half maps attached")
            halves = list(vol.getHalfMaps(asList=True))
            return [h.split(":")[0] for h in halves[:2]]
        if self.inputHalf1.get() is None or self.inputHalf2.get() is None:
            raise InputError("select both half maps")
        return [_path(self.inputHalf1.get()), _path(self.inputHalf2.get())]

    def getResults(self) -> dict:
        with open(os.path.join(self._getOutDir(), OUTPUTS["results"])) as fh:
            return json.load(fh)

    def getVerdict(self) -> dict:
        path = self._getExtraPath("verdict.json")
        if not os.path.exists(path):
            return {}
        with open(path) as fh:
            return json.load(fh)

    def _getOutDir(self):
        return self._getExtraPath("resolvecryoem")

    def _halfMapSource(self):
        return self.inputVolume.get() if self.useHalfMapsFromVolume else self.inputHalf1.get()

    def _inputPointers(self):
        names = (["inputVolume"] if self.useHalfMapsFromVolume else ["inputHalf1", "inputHalf2"]
                 ) + ["inputSequence", "inputFullMap", "inputMask"]
        return [getattr(self, n) for n in names if getattr(self, n).get() is not None]

    # --------------------------------------------------------------------------------------
    def _validate(self):
        errors = []
        try:
            paths = self.getHalfMapPaths()
        except InputError as e:
            return [str(e)]
        if (self.inputSequence.get() is None and not self.molecularMass.get()
                and not self.solventFraction.get()):
            errors.append("Give a sequence, a molecular mass or a solvent fraction: the "
                          "molecular volume is needed for the solvent mask.")
        try:
            p = self.getParams()
        except InputError as e:
            errors.append(str(e))
            p = None
        if self.inputModel.get() is not None:
            errors.append("Model-based density modification (atomic model input) is not "
                          "available yet.")
        if self.symmetryFile.get():
            try:
                read_ncs_spec(self.symmetryFile.get())
            except InputError as e:
                errors.append(str(e))
        try:
            g1 = mapio.read_map(paths[0], header_only=True)[1]
            g2 = mapio.read_map(paths[1], header_only=True)[1]
        except InputError as e:
            return errors + [str(e)]
        if tuple(g1.shape) != tuple(g2.shape):
            errors.append(f"The half maps have different boxes: {g1.shape[::-1]} and "
                          f"{g2.shape[::-1]}.")
        if not all(abs(a - b) <= 1e-3 * a for a, b in zip(g1.voxel_size, g2.voxel_size)):
            errors.append(f"The half maps have different sampling: {g1.voxel_size[::-1]} and "
                          f"{g2.voxel_size[::-1]} A.")
        for label, ptr in (("mask", self.inputMask), ("full map", self.inputFullMap)):
            if ptr.get() is not None:
                g = mapio.read_map(_path(ptr.get()), header_only=True)[1]
                if tuple(g.shape) != tuple(g1.shape):
                    errors.append(f"The {label} has a box of {g.shape[::-1]}, the half maps "
                                  f"{g1.shape[::-1]}.")
        nyquist = 2 * float(max(g1.voxel_size))
        if p is not None:
            for name in ("resolution", "dm_resolution"):
                d = getattr(p, name)
                if d is not None and not nyquist - 1e-6 <= d <= 50:
                    errors.append(f"{name} {d} A is out of range ({nyquist:.2f} A, Nyquist, "
                                  f"to 50 A).")
        return errors

    def _warnings(self):
        try:
            paths = self.getHalfMapPaths()
            d1, i1 = mapio.read_map(paths[0])
            d2, i2 = mapio.read_map(paths[1])
            return checks.check_half_maps(d1, i1, d2, i2)
        except InputError:
            return []

    def _summary(self):
        if not os.path.exists(os.path.join(self._getOutDir(), OUTPUTS["results"])):
            return ["Not finished yet."]
        r = self.getResults()["resolution"]
        lines = [f"Resolution before: {r['half_map_fsc']:.2f} A (half-map FSC 0.143).",
                 f"After density modification: {r['after_corrected']:.2f} A (corrected "
                 f"CC_ref 0.5); {r['after_cross']:.2f} A from independent cross-FSCs."]
        v = self.getVerdict()
        if v:
            lines.append(f"Verdict: density modification {v['verdict']} ({v['reason']}).")
        return lines

    def _methods(self):
        if not os.path.exists(os.path.join(self._getOutDir(), OUTPUTS["results"])):
            return []
        r = self.getResults()
        return [f"The map was density-modified with resolvecryoem (an implementation of the "
                f"procedure of [Terwilliger2020]): map-likelihood phasing of each half map to "
                f"{r['resolution']['dm_resolution']:.2f} A, error estimation from the four "
                f"maps and recombination. The half-map resolution of "
                f"{r['resolution']['half_map_fsc']:.2f} A became "
                f"{r['resolution']['after_corrected']:.2f} A (estimate corrected for "
                f"correlated errors)."]

    def _citations(self):
        return ["Terwilliger2020", "Terwilliger2000"]
