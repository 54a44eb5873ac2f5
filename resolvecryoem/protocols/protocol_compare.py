"""Scipion protocol: which of two maps is better (matched sharpening, map-model FSC)."""
import os

import pyworkflow.protocol.params as params
from pwem.objects import FSC, SetOfFSCs, Transform, Volume
from pwem.protocols import ProtAnalysis3D
from pyworkflow import BETA

from . import input_checks
from .protocol_resolve import _path


class ProtResolveCryoEMCompareMaps(ProtAnalysis3D):
    """Bring two maps to the same resolution dependence (matched sharpening) and report their
    map-map FSC and, with a model, the map-model FSC of each. A model refined against one of
    the maps favours that map."""
    _label = "compare maps (matched sharpening)"
    _devStatus = BETA
    _possibleOutputs = {"outputVolume1": Volume, "outputVolume2": Volume,
                        "outputFSCs": SetOfFSCs}

    def _defineParams(self, form):
        form.addSection(label="Input")
        form.addParam("inputVolume1", params.PointerParam, pointerClass="Volume",
                      important=True, label="First map",
                      help="For example the density-modified map.")
        form.addParam("inputVolume2", params.PointerParam, pointerClass="Volume",
                      important=True, label="Second map",
                      help="For example the post-processed map of the refinement. Same box "
                           "and sampling rate as the first map.")
        form.addParam("inputModel", params.PointerParam, pointerClass="AtomStruct",
                      allowsNull=True, label="Atomic model (optional)",
                      help="For map-model FSC. Refine it against each map if you can: a "
                           "model refined against one map favours that map.")
        form.addParam("resolution", params.FloatParam, default=0,
                      label="Low-pass resolution (A)", help="0: no low-pass.")

    def _insertAllSteps(self):
        self._insertFunctionStep(self.compareStep)
        self._insertFunctionStep(self.createOutputStep)

    def compareStep(self):
        from ..core.validation import compare
        model = self.inputModel.get()
        self.result = compare(_path(self.inputVolume1.get()), _path(self.inputVolume2.get()),
                              model=model.getFileName() if model else None,
                              resolution=self.resolution.get() or None,
                              out_dir=self._getExtraPath(),
                              voxel_size=self.inputVolume1.get().getSamplingRate())

    def createOutputStep(self):
        import json
        with open(self._getExtraPath("compare.json")) as fh:
            r = json.load(fh)
        outputs = {}
        for i, tag in ((1, "a"), (2, "b")):
            src = getattr(self, f"inputVolume{i}").get()
            vol = Volume()
            vol.setFileName(r[f"matched_{tag}"])
            vol.setSamplingRate(src.getSamplingRate())
            origin = Transform()
            origin.setMatrix(src.getOrigin(force=True).getMatrix())
            vol.setOrigin(origin)
            outputs[f"outputVolume{i}"] = vol
        fscs = self._createSetOfFSCs()
        curves = [("map-map FSC", r["map_map_fsc"])]
        if "map_model_fsc_a" in r:
            curves += [("map 1 vs model (around the model)", r["map_model_fsc_a_envelope"]),
                       ("map 2 vs model (around the model)", r["map_model_fsc_b_envelope"])]
        for label, y in curves:
            f = FSC(objLabel=label)
            f.setData(list(r["s"]), list(y))
            fscs.append(f)
        outputs["outputFSCs"] = fscs
        self._defineOutputs(**outputs)
        for i in (1, 2):  # a matched map shares its input's frame
            self._defineTransformRelation(getattr(self, f"inputVolume{i}"),
                                          outputs[f"outputVolume{i}"])

    def _validate(self):
        errors = []
        v1, v2 = self.inputVolume1.get(), self.inputVolume2.get()
        if v1 is not None and v2 is not None:
            if v1.getDim() != v2.getDim():
                errors.append(f"The maps have different boxes: {v1.getDim()} and "
                              f"{v2.getDim()}.")
            e = input_checks.sampling_error(v1.getSamplingRate(), v2.getSamplingRate(),
                                            "The first map", "the second map")
            if e:
                errors.append(e)
        return errors

    def _summary(self):
        path = self._getExtraPath("compare.json")
        if not os.path.exists(path):
            return ["Not finished yet."]
        import json
        with open(path) as fh:
            r = json.load(fh)
        lines = [f"Map-map FSC = 0.5 at {r['map_map_resolution_0.5']:.2f} A."]
        if "map_model_resolution_a_envelope" in r:
            lines.append(f"Map-model FSC = 0.5 around the model: map 1 "
                         f"{r['map_model_resolution_a_envelope']:.2f} A, map 2 "
                         f"{r['map_model_resolution_b_envelope']:.2f} A.")
        return lines

