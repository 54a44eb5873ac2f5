"""Scipion protocol: density modification of a map from its two half maps.

Thin by design: it gathers inputs, runs the stages of :mod:`resolvecryoem.core.pipeline` and
registers outputs.  The heavy stages (prepare, each half map, finish) run as external commands
(``python -m resolvecryoem.stages``) through ``runJob``: side by side on one machine, or each
as its own queue job when the host's queue submits steps (``QUEUE_FOR_JOBS = Y``).  Light steps
(writing the inputs, registering outputs) stay Python functions.
"""
import json
import os
import sys

import pyworkflow.protocol.params as params
import pyworkflow.utils as pwutils
from pwem.constants import SCIPION_SYM_NAME, SYM_CYCLIC
from pwem.objects import FSC, AtomStruct, SetOfFSCs, Transform, Volume
from pwem.protocols import ProtAnalysis3D
from pyworkflow import BETA
from pyworkflow.constants import QUEUE_FOR_JOBS
from pyworkflow.protocol import STEPS_PARALLEL

from ..core import checks, mapio
from ..core.errors import InputError
from ..core.params import (CONTENT_FIELDS, DensityModificationParams, field_type,
                           param_fields, protocol_name)
from ..core.pipeline import OUTPUTS, STATE
from ..core.symmetry import read_ncs_spec
from . import input_checks
from .form_labels import EXPERT_GROUPS, FROM_ELSEWHERE, label

# Dataclass fields placed on the input page (the rest go to the expert section).
_INPUT_FIELDS = set(CONTENT_FIELDS) | {"resolution", "dm_resolution"}


def _path(obj):
    """File name of a Scipion object without a ':mrc'-style format suffix."""
    name = obj.getFileName()
    return name.split(":")[0] if name else name


class StageFailed(Exception):
    """A stage command failed; the message carries its error text."""


class ProtResolveCryoEM(ProtAnalysis3D):
    """Density modification of a cryo-EM map from two UNMASKED half maps.

    Each half map is improved by map-likelihood phasing (flat solvent and the density
    histograms of solvent and molecule), the four maps are compared to estimate their errors,
    and they are recombined into density-modified half maps and a full map. The resolution
    estimate is corrected for the correlation that flattening introduces.
    """
    _label = "resolve cryo-EM density modification"
    _devStatus = BETA
    _possibleOutputs = {"outputVolume": Volume, "outputFSCs": SetOfFSCs,
                        "outputInitialVolume": Volume, "outputLocalResolution": Volume,
                        "outputVolumeNoModel": Volume, "outputModel": AtomStruct}
    stepsExecutionMode = STEPS_PARALLEL

    # --------------------------------------------------------------------------------------
    def _defineParams(self, form):
        form.addSection(label="Input")
        g = form.addGroup("Half maps")
        g.addParam("useHalfMapsFromVolume", params.BooleanParam, default=True,
                   label="Half maps attached to a volume?",
                   help="Yes: take the two half maps attached to a refined volume (the usual "
                        "output of a refinement, or of an import with 'set half maps'). No: "
                        "select the half maps as two volumes.")
        g.addParam("inputVolume", params.PointerParam, pointerClass="Volume",
                   pointerCondition="hasHalfMaps", allowsNull=True, important=True,
                   condition="useHalfMapsFromVolume", label="Volume with half maps",
                   help="Only its two half maps are used. They must be UNMASKED (noise in the "
                        "solvent) and independent (two halves of the data refined "
                        "separately). The volume's sampling rate is used, not the file "
                        "headers'. Its own map is NOT used as the full map; give it as "
                        "'Full map' if you want it recombined.")
        half_help = ("One UNMASKED half map from a refinement with independent halves (gold "
                     "standard). Not a density-modified or post-processed map. Scipion's "
                     "sampling rate is used, not the file header's; both half maps must have "
                     "the same.")
        g.addParam("inputHalf1", params.PointerParam, pointerClass="Volume",
                   allowsNull=True, important=True, condition="not useHalfMapsFromVolume",
                   label="Half map 1", help=half_help)
        g.addParam("inputHalf2", params.PointerParam, pointerClass="Volume",
                   allowsNull=True, important=True, condition="not useHalfMapsFromVolume",
                   label="Half map 2", help=half_help)
        g = form.addGroup("Molecule")
        g.addParam("inputSequence", params.PointerParam, pointerClass="Sequence",
                   allowsNull=True, important=True, label="Sequence",
                   help="Sequence of the molecule: all chains, or one copy and 'copies'. It "
                        "gives the molecular volume, hence the solvent fraction. Without a "
                        "sequence, give the molecular mass or the solvent fraction.")
        for name in CONTENT_FIELDS:
            self._addDataclassParam(g, name)
        g = form.addGroup("Resolution")
        self._addDataclassParam(g, "resolution", help_extra=" 0: estimate from the half maps "
                                "(the wizard shows the value).")
        self._addDataclassParam(g, "dm_resolution", help_extra=" 0: automatic.")

        form.addSection(label="Optional inputs")
        g = form.addGroup("Final map")
        g.addParam("inputFullMap", params.PointerParam, pointerClass="Volume",
                   allowsNull=True, label="Full map",
                   help="Recombined with the density-modified half maps instead of the "
                        "half-map average. Helps when the full map was processed in a way "
                        "that makes it better than the average of the half maps.")
        g.addParam("inputMask", params.PointerParam, pointerClass="VolumeMask",
                   allowsNull=True, label="Mask",
                   help="1 where the molecule is, 0 elsewhere; same box as the half maps. "
                        "Try it when the map has big noise peaks or density that is not "
                        "part of the molecule.")
        g = form.addGroup("Symmetry")
        g.addParam("symmetryGroup", params.EnumParam,
                   choices=list(SCIPION_SYM_NAME.values()), default=SYM_CYCLIC,
                   label="Symmetry group",
                   help="Symmetry NOT imposed in the reconstruction, averaged during density "
                        "modification about the centre of the box (Scipion's convention). "
                        "Cn, Dxn, Dyn, T222, O and I222 are supported; Cn with order 1 "
                        "means none.")
        g.addParam("symmetryOrder", params.IntParam, default=1, label="Symmetry order",
                   condition="symmetryGroup<=%d" % 2,
                   help="n of Cn, Dxn or Dyn: the number of copies around the n-fold axis "
                        "(z). 1 with Cn: no symmetry.")
        g.addParam("symmetryFile", params.FileParam, default="", label="Symmetry file",
                   help=".ncs_spec symmetry operators (Phenix find_ncs), used instead of "
                        "the symmetry group.")
        g = form.addGroup("Model")
        g.addParam("inputModel", params.PointerParam, pointerClass="AtomStruct",
                   allowsNull=True, label="Atomic model (optional)",
                   help="Model-based density modification: 4 randomised copies of this "
                        "model are refined against each half map (8 independent steps), "
                        "and the density-modified maps are moved toward them where they "
                        "agree. The model-free map is kept as a second output: consult it "
                        "for any specific density (the model biases the map toward itself).")

        form.addSection(label="Density modification")
        placed = set(_INPUT_FIELDS) | set(FROM_ELSEWHERE)
        fields = {f.name for f in param_fields()}
        for title, names in EXPERT_GROUPS:
            names = [n for n in names if n in fields]
            if names:
                g = form.addGroup(title, expertLevel=params.LEVEL_ADVANCED)
                for n in names:
                    self._addDataclassParam(g, n, expertLevel=params.LEVEL_ADVANCED)
                placed.update(names)
        rest = [f.name for f in param_fields() if f.name not in placed]
        if rest:
            g = form.addGroup("Other", expertLevel=params.LEVEL_ADVANCED)
            for n in rest:
                self._addDataclassParam(g, n, expertLevel=params.LEVEL_ADVANCED)
        # Scipion threads = 1 (pyworkflow's own) + steps run side by side; binThreads = FFT
        # threads of each step's program. Defaults: the two half maps side by side with one
        # thread each, i.e. 2 cores, on a 2-core machine or as a 2-CPU queue job.
        form.addParallelSection(threads=3, mpi=0, binThreads=1, binThreadsHelp=(
            "*Threads per step*: FFT threads of each step's program (and the CPUs each queue "
            "job asks for when steps are queue jobs). Steps run side by side: Scipion threads "
            "- 1 at a time, so the cores used are (Scipion threads - 1) x threads per step."))

    def _addDataclassParam(self, group, name, help_extra="", **kwargs):
        """One form parameter per dataclass field, same help text (keyword names shared)."""
        f = next(f for f in param_fields() if f.name == name)
        t, optional = field_type(name)
        cls = {bool: params.BooleanParam, int: params.IntParam, float: params.FloatParam,
               str: params.StringParam}[t]
        default = f.default
        if optional and name in ("resolution", "dm_resolution"):
            default = 0.0  # 0 means automatic, as in the reference program
        group.addParam(protocol_name(name), cls, default=default, allowsNull=optional,
                       label=label(name), help=f.metadata.get("help", "") + help_extra,
                       **kwargs)

    # --------------------------------------------------------------------------------------
    def _insertAllSteps(self):
        c = self._insertFunctionStep(self.convertInputStep)
        p = self._insertFunctionStep(self.prepareStep, prerequisites=[c])
        halves = [self._insertFunctionStep(self.modifyHalfStep, i, prerequisites=[p])
                  for i in (1, 2)]
        if self.inputModel.get() is not None or self.densityModifyWithModel.get():
            # One step per (half map, copy), each needing only its own half's result; then
            # one composite step per half map.
            from ..core.models import N_BUILT, N_COPIES
            n = N_COPIES if self.inputModel.get() is not None else N_BUILT
            halves = [self._insertFunctionStep(
                self.modelHalfStep, i, prerequisites=[
                    self._insertFunctionStep(self.refineModelStep, i, k,
                                             prerequisites=[halves[i - 1]])
                    for k in range(n)]) for i in (1, 2)]
        f = self._insertFunctionStep(self.finishStep, prerequisites=halves)
        self._insertFunctionStep(self.createOutputStep, prerequisites=[f])

    def convertInputStep(self):
        """Light: the sequence as FASTA and the parameters as JSON, for the stage commands."""
        s = self.inputSequence.get()
        if s is not None:
            with open(self._getExtraPath("sequence.fasta"), "w") as fh:
                fh.write(f">{s.getSeqName() or 'sequence'}\n{s.getSequence()}\n")
        mapio.atomic_write_text(self._getExtraPath("params.json"),
                                json.dumps(self.getParams().to_dict(), indent=1))

    def prepareStep(self):
        h1, h2 = self.getHalfMapPaths()
        args = ["prepare", h1, h2, "--output-dir", self._getOutDir(),
                "--params", self._getExtraPath("params.json")]
        if self.inputSequence.get() is not None:
            args += ["--seq-file", self._getExtraPath("sequence.fasta")]
        for flag, ptr in (("--full-map", self.inputFullMap), ("--mask", self.inputMask)):
            if ptr.get() is not None:
                args += [flag, _path(ptr.get())]
        if self.symmetryFile.get():
            args += ["--symmetry-file", self.symmetryFile.get()]
        if self.inputModel.get() is not None:
            args += ["--model", self.inputModel.get().getFileName()]
        self._runStage("prepare", args, os.path.join(self._getStateDir(), "meta.json"))

    def modifyHalfStep(self, which):
        self._runStage(f"half{which}", ["half", self._getStateDir(), str(which)],
                       os.path.join(self._getStateDir(), f"half{which}.json"))

    def refineModelStep(self, which, copy):
        self._runStage(f"model{which}_{copy}", ["model", self._getStateDir(), str(which),
                                                str(copy)],
                       os.path.join(self._getStateDir(),
                                    f"model_half{which}_copy{copy}.json"))

    def modelHalfStep(self, which):
        self._runStage(f"model_half{which}", ["model-half", self._getStateDir(), str(which)],
                       os.path.join(self._getStateDir(), f"model_half{which}.json"))

    def finishStep(self):
        self._runStage("finish", ["finish", self._getStateDir()],
                       os.path.join(self._getOutDir(), OUTPUTS["results"]))

    def _runStage(self, name, args, done_file):
        """Run one stage command through runJob (a queue job when steps are queued). Queue
        jobs do not report their exit code, so success is the stage's output file; on failure
        the stage's error text goes to this protocol's log and into the failure message.
        Paths stay relative to the project folder: the working folder of steps and of the
        queue jobs they submit."""
        err = os.path.abspath(self._getExtraPath(f"stage_{name}.err"))
        pwutils.cleanPath(err)
        threads = self.getStepThreads()
        env = pwutils.Environ(os.environ)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)  # numpy's own pools: no more than the step asked for
        failure = None
        try:
            self.runJob(sys.executable, ["-m", "resolvecryoem.stages"] + args
                        + ["--error-file", err], env=env, numberOfThreads=threads)
        except Exception as e:  # noqa: BLE001 - reported below with the stage's own text
            failure = e
        if os.path.exists(done_file) and failure is None:
            return
        if os.path.exists(err):
            with open(err) as fh:
                text = fh.read().strip()
        else:
            why = failure or "the job ended without writing its output"
            text = (f"no error message from the stage ({why}): it was probably killed "
                    f"(memory, time limit or cancelled); see the job's .out/.err files in "
                    f"{self._getLogsPath()}")
        self.error(f"stage {name} failed:\n{text}")
        raise StageFailed(f"resolvecryoem stage '{name}' failed: {text.splitlines()[-1]}")

    def createOutputStep(self):
        out = self._getOutDir()
        self.info(self.getVerdict().get("summary", ""))
        src = self._halfMapSource()
        vol = self._newVolume(os.path.join(out, OUTPUTS["denmod_map"]), src)
        vol.setHalfMaps([os.path.join(out, OUTPUTS["denmod_half_map_1"]),
                         os.path.join(out, OUTPUTS["denmod_half_map_2"])])
        outputs = {"outputVolume": vol, "outputFSCs": self._fscSet(),
                   "outputInitialVolume": self._newVolume(
                       os.path.join(out, OUTPUTS["initial_map"]), src)}
        local = os.path.join(out, OUTPUTS["local_resolution"])
        if os.path.exists(local):
            outputs["outputLocalResolution"] = self._newVolume(local, src)
        no_model = os.path.join(out, OUTPUTS["denmod_map_no_model"])
        if os.path.exists(no_model):
            outputs["outputVolumeNoModel"] = self._newVolume(no_model, src)
            model = AtomStruct(filename=os.path.join(out, OUTPUTS["composite_model"]))
            model.setVolume(vol)
            outputs["outputModel"] = model
        self._defineOutputs(**outputs)
        # The maps share the half maps' frame (same box, origin and sampling).
        halves = ["inputVolume"] if self.useHalfMapsFromVolume else ["inputHalf1", "inputHalf2"]
        for name in halves:
            for key in ("outputVolume", "outputInitialVolume", "outputLocalResolution",
                        "outputVolumeNoModel"):
                if key in outputs:
                    self._defineTransformRelation(getattr(self, name), outputs[key])
        for ptr in self._inputPointers():
            if ptr not in [getattr(self, n) for n in halves]:
                self._defineSourceRelation(ptr, vol)

    def _newVolume(self, path, src):
        vol = Volume()
        vol.setFileName(path)
        vol.setSamplingRate(src.getSamplingRate())
        origin = Transform()
        origin.setMatrix(src.getOrigin(force=True).getMatrix())
        vol.setOrigin(origin)
        return vol

    def _fscSet(self):
        fscs = self._createSetOfFSCs()
        r = self.getResults()
        s = r["fsc"]["s"]
        curves = [("half maps before (FSC)", r["fsc"]["half_maps_before"]),
                  ("after: delivered map, as equivalent half-map FSC",
                   r["fsc"]["fsc_equivalent_after"]),
                  ("independent: DM half 1 vs original half 2",
                   r["fsc"]["denmod_half_1_vs_original_half_2"]),
                  ("independent: DM half 2 vs original half 1",
                   r["fsc"]["denmod_half_2_vs_original_half_1"])]
        for lab, y in curves:
            f = FSC(objLabel=lab)
            f.setData(list(s), list(y))
            fscs.append(f)
        return fscs

    # --------------------------------------------------------------------------------------
    def getStepThreads(self) -> int:
        """FFT threads of each heavy step (binThreads), at least 1."""
        return max(1, int(self.binThreads.get() or 1))

    def getSubmitDict(self):
        """Queue requests that match what runs: a per-step job asks for its step's threads;
        the whole protocol as one job asks for the steps that run side by side x their
        threads (pyworkflow's own thread only waits for them)."""
        d = super().getSubmitDict()
        per_step = self.getStepThreads()
        if d.get(QUEUE_FOR_JOBS) == "Y":
            d["JOB_THREADS"] = per_step
        else:
            d["JOB_THREADS"] = max(1, int(self.numberOfThreads.get() or 1) - 1) * per_step
        d["JOB_CORES"] = d["JOB_THREADS"]
        return d

    def getParams(self) -> DensityModificationParams:
        """The core's parameters from the form (camelCase attribute per dataclass field),
        with Scipion's sampling rate as the voxel size and binThreads as FFT threads."""
        values = {}
        names = {f.name for f in param_fields()}
        for f in param_fields():
            if f.name in FROM_ELSEWHERE:
                continue
            v = getattr(self, protocol_name(f.name)).get()
            if f.name in ("resolution", "dm_resolution", "molecular_mass",
                          "solvent_fraction") and not v:
                v = None
            values[f.name] = v
        values["nproc"] = self.getStepThreads()
        values["symmetry"] = self.getSymmetrySymbol()
        if "voxel_size" in names:  # the core's field (A); until then the headers are used
            values["voxel_size"] = self.getSamplingRate()
        if self.inputSequence.get() is not None:
            values["molecular_mass"] = values["solvent_fraction"] = None
        return DensityModificationParams(**values)

    def getSamplingRate(self):
        """Scipion's sampling rate (A/px) of the half maps, or None when not selected."""
        src = self._halfMapSource()
        return None if src is None else float(src.getSamplingRate())

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
        """The run's verdict (results.json: computed by the pipeline on what it delivered,
        at the voxel size it used), or {} before the run has finished."""
        if not os.path.exists(os.path.join(self._getOutDir(), OUTPUTS["results"])):
            return {}
        return self.getResults().get("verdict", {})

    def _getOutDir(self):
        return self._getExtraPath("resolvecryoem")

    def _getStateDir(self):
        return os.path.join(self._getOutDir(), STATE)

    def _halfMapSource(self):
        return self.inputVolume.get() if self.useHalfMapsFromVolume else self.inputHalf1.get()

    def _halfMapPointers(self):
        return [self.inputVolume] if self.useHalfMapsFromVolume else [self.inputHalf1,
                                                                      self.inputHalf2]

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
        seq = self.inputSequence.get()
        if seq is None and not self.molecularMass.get() and not self.solventFraction.get():
            errors.append("Give a sequence, a molecular mass or a solvent fraction: the "
                          "molecular volume is needed for the solvent mask.")
        if seq is not None and not (seq.getSequence() or "").strip():
            errors.append(f"The sequence '{seq.getSeqName() or seq.getObjLabel()}' is empty.")
        if not self.useHalfMapsFromVolume:
            e = input_checks.sampling_error(self.inputHalf1.get().getSamplingRate(),
                                            self.inputHalf2.get().getSamplingRate(),
                                            "Half map 1", "half map 2")
            if e:
                errors.append(e)
        sampling = self.getSamplingRate()
        for label_, ptr in (("The mask", self.inputMask), ("The full map", self.inputFullMap)):
            if ptr.get() is not None:
                e = input_checks.sampling_error(sampling, ptr.get().getSamplingRate(),
                                                "The half maps", label_.lower())
                if e:
                    errors.append(e)
        for ptr in self._halfMapPointers():
            prot = input_checks.producing_protocol(ptr, self.getProject())
            if isinstance(prot, ProtResolveCryoEM):
                errors.append(f"The half maps come from density modification "
                              f"({prot.getRunName()}): its half maps are no longer "
                              f"independent, so a second run would report inflated "
                              f"resolutions. Use the half maps of the refinement.")
        try:
            p = self.getParams()
        except InputError as e:
            errors.append(str(e))
            p = None
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
        elif input_checks.same_content(paths[0], paths[1]):
            errors.append(f"The two half maps are identical ({paths[0]}, {paths[1]}): two "
                          f"independent half maps are needed.")
        for label_, ptr in (("mask", self.inputMask), ("full map", self.inputFullMap)):
            if ptr.get() is not None:
                g = mapio.read_map(_path(ptr.get()), header_only=True)[1]
                if tuple(g.shape) != tuple(g1.shape):
                    errors.append(f"The {label_} has a box of {g.shape[::-1]}, the half maps "
                                  f"{g1.shape[::-1]}.")
        nyquist = 2 * float(sampling)
        if p is not None:
            for name in ("resolution", "dm_resolution"):
                d = getattr(p, name)
                if d is not None and not nyquist - 1e-6 <= d <= 50:
                    errors.append(f"{label(name)} {d} is out of range ({nyquist:.2f} A, "
                                  f"Nyquist, to 50 A).")
            if p.model_sharpening and self.inputModel.get() is None \
                    and not p.density_modify_with_model:
                errors.append(f"{label('model_sharpening')} needs an atomic model or "
                              f"automatically built models.")
        if self.binThreads.get() is not None and self.binThreads.get() < 1:
            errors.append("Threads per step must be at least 1.")
        errors += self._validateQueue()
        return errors

    def _validateQueue(self):
        """Per-step queue jobs: pyworkflow waits for each job while the check command's
        output does not match JOB_DONE_REGEX; an empty regex matches anything, so every
        step would be taken as finished as soon as it is submitted."""
        if not self.useQueue() or self.getProject() is None:
            return []
        if json.loads(self._queueParams.get() or '["", {}]')[1].get(QUEUE_FOR_JOBS) != "Y":
            return []
        queue = self.getProject().getHostConfig(self.getHostName()).getQueueSystem()
        if queue.jobDoneRegex.get() == "":
            return ["The host configuration sets an empty JOB_DONE_REGEX: with one queue job "
                    "per step, Scipion would take each job as finished when submitted. Remove "
                    "the line (SLURM's squeue lists only unfinished jobs) or give a pattern "
                    "of a finished job's status."]
        return []

    def _warnings(self):
        warnings = []
        try:
            paths = self.getHalfMapPaths()
            sampling = self.getSamplingRate()
            d1, i1 = mapio.read_map(paths[0])
            d2, i2 = mapio.read_map(paths[1])
            for path, info in ((paths[0], i1), (paths[1], i2)):
                w = input_checks.header_sampling_warning(path, info.voxel_size, sampling)
                if w:
                    warnings.append(w)
            warnings += checks.check_half_maps(d1, i1, d2, i2)
        except InputError:
            pass
        cores = os.cpu_count() or 1
        side_by_side = max(1, int(self.numberOfThreads.get() or 1) - 1)
        if not self.useQueue() and side_by_side * self.getStepThreads() > cores:
            warnings.append(f"{side_by_side} steps side by side x {self.getStepThreads()} "
                            f"threads each exceed this machine's {cores} cores.")
        return warnings

    def _summary(self):
        if not os.path.exists(os.path.join(self._getOutDir(), OUTPUTS["results"])):
            return ["Not finished yet."]
        results = self.getResults()
        r = results["resolution"]
        lines = [f"Resolution before: {r['half_map_fsc']:.2f} A (half-map FSC 0.143).",
                 f"After density modification: {r['after_corrected']:.2f} A (corrected "
                 f"CC_ref 0.5); {r['after_cross']:.2f} A from independent cross-FSCs."]
        v = self.getVerdict()
        if v:
            lines.append(f"Verdict: density modification {v['verdict']} ({v['reason']}).")
        lines += [f"WARNING: {w}" for w in results.get("warnings", [])]
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
