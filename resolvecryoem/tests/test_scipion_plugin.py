"""The Scipion plugin in real headless projects: import, run, outputs, chaining, validation,
discovery, viewers. Environment from the repository's root conftest.py."""
import json
import os
import tempfile
from datetime import datetime

import numpy as np
import pytest

pytest.importorskip("pwem")

from pwem.protocols import (ProtCropResizeVols, ProtImportMask, ProtImportPdb,  # noqa: E402
                            ProtImportSequence, ProtImportVolumes)
from pyworkflow.tests import BaseTest, setupTestProject  # noqa: E402

from resolvecryoem.core import mapio  # noqa: E402
from resolvecryoem.core.scoring import resolution_against_truth  # noqa: E402
from resolvecryoem.core.simulate import bundled_model, example_case  # noqa: E402
from resolvecryoem.protocols import (ProtResolveCryoEM,  # noqa: E402
                                     ProtResolveCryoEMCompareMaps)


class TestResolveCryoEMProtocol(BaseTest):
    @classmethod
    def setUpClass(cls):
        setupTestProject(cls)
        cls.dataDir = tempfile.mkdtemp(prefix="resolvecryoem-scipion-data-")
        cls.case = example_case(cls.dataDir, box=48, resolution_A=4.0, seed=5)
        p = cls.case.paths
        cls.sampling = cls.case.voxel_size
        cls.importVol = cls.newProtocol(
            ProtImportVolumes, filesPath=str(p["truth"]), samplingRate=cls.sampling,
            setHalfMaps=True, half1map=str(p["half_map_1"]), half2map=str(p["half_map_2"]))
        cls.launchProtocol(cls.importVol)
        cls.importSeq = cls.newProtocol(
            ProtImportSequence, inputSequenceName="adk",
            inputProteinSequence=ProtImportSequence.IMPORT_FROM_PLAIN_TEXT,
            inputRawSequence=cls.case.sequence.split("\n", 1)[1].replace("\n", ""))
        cls.launchProtocol(cls.importSeq)

    def _resolve(self, **kwargs):
        kw = dict(inputVolume=self.importVol.outputVolume,
                  inputSequence=self.importSeq.outputSequence)
        kw.update(kwargs)
        return self.newProtocol(ProtResolveCryoEM, **kw)

    def test_run_outputs_improvement_and_chaining(self):
        prot = self._resolve()
        self.launchProtocol(prot)
        vol = prot.outputVolume
        inp = self.importVol.outputVolume
        self.assertAlmostEqual(vol.getSamplingRate(), inp.getSamplingRate(), places=4)
        self.assertEqual(vol.getDim(), inp.getDim())
        self.assertTrue(np.allclose(vol.getOrigin(force=True).getShifts(),
                                    inp.getOrigin(force=True).getShifts()))
        halves = vol.getHalfMaps(asList=True)
        self.assertEqual(len(halves), 2)
        self.assertTrue(all(os.path.exists(prot._getPath(h) if not os.path.isabs(h) else h)
                            or os.path.exists(h) for h in halves))
        # every possible output that this run writes is registered
        self.assertEqual(prot.outputInitialVolume.getDim(), inp.getDim())
        self.assertFalse(hasattr(prot, "outputLocalResolution"))  # local_sharpening off
        for name in ("outputVolume", "outputFSCs", "outputInitialVolume"):
            self.assertIn(name, prot._possibleOutputs)
        # better against the known truth, inside the envelope
        m, info = mapio.read_map(os.path.abspath(vol.getFileName()))
        avg = 0.5 * (self.case.half_map_1 + self.case.half_map_2)
        before = resolution_against_truth(avg, self.case.truth, self.sampling,
                                          self.case.envelope)
        after = resolution_against_truth(m, self.case.truth, self.sampling,
                                         self.case.envelope)
        self.assertLess(after, before - 0.03)
        self.assertEqual(len(prot.outputFSCs), 4)
        summary = "\n".join(prot.summary())
        self.assertIn("Verdict", summary)
        self.assertTrue(prot.methods())
        # the two half-map steps ran side by side (defaults: 3 Scipion threads, 1 per step)
        # and each step's program used one FFT thread
        steps = {s.funcName.get(): s for s in prot.loadSteps()}
        spans = [(datetime.fromisoformat(s.initTime.get()), datetime.fromisoformat(
            s.endTime.get())) for s in prot.loadSteps() if s.funcName.get() == "modifyHalfStep"]
        self.assertEqual(len(spans), 2)
        self.assertLess(max(a for a, _ in spans), min(b for _, b in spans),
                        f"half-map steps did not overlap: {spans}")
        self.assertIn("prepareStep", steps)
        self.assertEqual(prot.getResults()["parameters"]["nproc"], 1)
        # a density-modified output is refused as input half maps (no longer independent)
        again = self._resolve(inputVolume=vol)
        self.assertTrue(any("no longer independent" in e for e in again.validate()),
                        again.validate())
        # feeds downstream pwem protocols
        crop = self.newProtocol(ProtCropResizeVols, inVolume=vol, doResize=True,
                                resizeOption=0, resizeSamplingRate=2 * self.sampling)
        self.launchProtocol(crop)
        self.assertAlmostEqual(crop.volume.getSamplingRate(), 2 * self.sampling, places=3)
        # viewers, headless
        from resolvecryoem.viewers import ResolveCryoEMViewer
        viewer = ResolveCryoEMViewer(project=self.proj, protocol=prot)
        paths = viewer.savePlots(prot._getExtraPath("plots"))
        for p in paths:
            self.assertTrue(os.path.getsize(p) > 0, p)
        cxc = open(next(p for p in paths if p.endswith(".cxc"))).read()
        self.assertIn("voxelSize", cxc)
        self.assertIn("origin", cxc)
        self.assertIn("level", cxc)
        # wizards compute what they fill in
        from resolvecryoem.wizards.wizards import estimate_resolution, estimate_solvent_fraction
        self.assertAlmostEqual(estimate_resolution(prot), 4.0, delta=0.4)
        fraction, mass = estimate_solvent_fraction(prot)
        self.assertTrue(0.5 < fraction < 0.99)
        self.assertAlmostEqual(mass, self.case.molecular_mass_Da, delta=0.02 * mass)

    def test_scipion_sampling_is_the_voxel_size(self):
        """A recalibrated import (header keeps the old voxel size): Scipion's sampling is
        what the core gets, and the form warns about the header."""
        p = self.case.paths
        recal = 1.05 * self.sampling
        imp = self.newProtocol(
            ProtImportVolumes, filesPath=str(p["truth"]), samplingRate=recal,
            setHalfMaps=True, half1map=str(p["half_map_1"]), half2map=str(p["half_map_2"]))
        self.launchProtocol(imp)
        prot = self._resolve(inputVolume=imp.outputVolume)
        self.assertTrue(any("Scipion's sampling is used" in w for w in prot.warnings()))
        params = prot.getParams()
        self.assertAlmostEqual(params.voxel_size, recal, places=5)
        # the wizards work at Scipion's sampling too
        from resolvecryoem.wizards.wizards import estimate_resolution
        self.assertAlmostEqual(estimate_resolution(prot), 4.0 * 1.05, delta=0.45)
        # the run uses it: output headers and Scipion's tag agree with the recalibration
        self.launchProtocol(prot)
        self.assertAlmostEqual(prot.outputVolume.getSamplingRate(), recal, places=4)
        info = mapio.read_map(os.path.abspath(prot.outputVolume.getFileName()),
                              header_only=True)[1]
        self.assertTrue(np.allclose(info.voxel_size, recal, rtol=1e-4), info.voxel_size)
        self.assertAlmostEqual(prot.getResults()["resolution"]["half_map_fsc"],
                               1.05 * 3.97, delta=0.3)

    def test_failed_stage_fails_the_protocol_with_its_message(self):
        """A half map whose data are cut short passes the header checks; the prepare stage
        fails and its error reaches the protocol's message and log."""
        p = self.case.paths
        bad = os.path.join(self.dataDir, "cut_half_map_1.mrc")
        data = open(p["half_map_1"], "rb").read()
        with open(bad, "wb") as fh:
            fh.write(data[: len(data) // 2])
        imp = self.newProtocol(
            ProtImportVolumes, filesPath=str(p["truth"]), samplingRate=self.sampling,
            setHalfMaps=True, half1map=bad, half2map=str(p["half_map_2"]))
        self.launchProtocol(imp)
        prot = self._resolve(inputVolume=imp.outputVolume)
        with self.assertRaises(Exception):
            self.launchProtocol(prot)
        self.assertTrue(prot.isFailed())
        self.assertIn("stage 'prepare' failed", prot.getErrorMessage())
        self.assertIn("cut_half_map_1.mrc", prot.getErrorMessage())
        log = "".join(open(f).read() for f in prot.getLogPaths() if os.path.exists(f))
        self.assertIn("resolvecryoem: error:", log)

    def test_separate_half_maps_and_mask(self):
        p = self.case.paths
        imports = []
        for key in ("half_map_1", "half_map_2"):
            prot = self.newProtocol(ProtImportVolumes, filesPath=str(p[key]),
                                    samplingRate=self.sampling)
            self.launchProtocol(prot)
            imports.append(prot.outputVolume)
        mask_path = os.path.join(self.dataDir, "mask.mrc")
        info = mapio.map_info(self.case.truth.shape, self.sampling, self.case.start_A)
        mapio.write_map(mask_path, (self.case.envelope > 0.3).astype(np.float32), info)
        imask = self.newProtocol(ProtImportMask, maskPath=mask_path, samplingRate=self.sampling)
        self.launchProtocol(imask)
        prot = self._resolve(useHalfMapsFromVolume=False, inputHalf1=imports[0],
                             inputHalf2=imports[1], inputSequence=None,
                             molecularMass=self.case.molecular_mass_Da,
                             inputMask=imask.outputMask, localSharpening=True)
        self.launchProtocol(prot)
        self.assertTrue(prot.outputVolume.hasHalfMaps())
        # local sharpening writes a local resolution map: registered, shown coloured
        local = prot.outputLocalResolution
        self.assertEqual(local.getDim(), imports[0].getDim())
        m = mapio.read_map(os.path.abspath(local.getFileName()))[0]
        self.assertTrue(2 * self.sampling - 1e-3 <= m.min() <= m.max() < 50)
        from resolvecryoem.viewers import ResolveCryoEMViewer
        paths = ResolveCryoEMViewer(project=self.proj, protocol=prot).savePlots(
            prot._getExtraPath("plots"))
        self.assertTrue(any(p.endswith("local_resolution.png") for p in paths))
        cxc = open(next(p for p in paths if p.endswith(".cxc"))).read()
        self.assertIn("color sample", cxc)

    def test_validation_errors(self):
        prot = self._resolve(inputSequence=None)
        self.assertTrue(any("sequence, a molecular mass or a solvent fraction" in e
                            for e in prot.validate()))
        prot = self._resolve(resolution=0.5)
        self.assertTrue(any("out of range" in e for e in prot.validate()))
        from pwem.constants import SCIPION_SYM_NAME
        prot = self._resolve(symmetryGroup=list(SCIPION_SYM_NAME.values()).index("In25"))
        self.assertTrue(any("not available yet" in e for e in prot.validate()))
        prot = self._resolve(symmetryOrder=2)
        self.assertEqual(prot.validate(), [])
        self.assertEqual(prot.getParams().symmetry, "C2")
        prot = self._resolve(densityModifyWithModel=True)
        self.assertEqual(prot.validate(), [])
        pdb = self.newProtocol(ProtImportPdb, inputPdbData=ProtImportPdb.IMPORT_FROM_FILES,
                               pdbFile=str(bundled_model()))
        self.launchProtocol(pdb)
        prot = self._resolve(inputModel=pdb.outputPdb)
        self.assertEqual(prot.validate(), [])
        prot = self._resolve(inputModel=pdb.outputPdb, modelSharpening=True)
        self.assertEqual(prot.validate(), [])
        prot = self._resolve(modelSharpening=True)
        self.assertTrue(any("Model-based sharpening" in e and "model" in e
                            for e in prot.validate()), prot.validate())
        # a mask of another box
        mask_path = os.path.join(self.dataDir, "small_mask.mrc")
        mapio.write_map(mask_path, np.ones((40, 40, 40), np.float32),
                        mapio.map_info((40, 40, 40), self.sampling))
        imask = self.newProtocol(ProtImportMask, maskPath=mask_path, samplingRate=self.sampling)
        self.launchProtocol(imask)
        prot = self._resolve(inputMask=imask.outputMask)
        self.assertTrue(any("mask has a box" in e for e in prot.validate()))
        self.assertEqual(self._resolve().validate(), [])
        # an empty sequence
        from pwem.objects import Sequence
        prot = self._resolve()
        prot.inputSequence.set(Sequence(name="empty", sequence=""))
        self.assertTrue(any("is empty" in e for e in prot.validate()), prot.validate())

    def test_model_based_run_has_one_step_per_copy_and_both_maps(self):
        pdb = self.newProtocol(ProtImportPdb, inputPdbData=ProtImportPdb.IMPORT_FROM_FILES,
                               pdbFile=str(bundled_model()))
        self.launchProtocol(pdb)
        prot = self._resolve(inputModel=pdb.outputPdb, numberOfThreads=3)
        self.launchProtocol(prot)
        for name in ("outputVolume", "outputVolumeNoModel", "outputModel", "outputFSCs"):
            self.assertTrue(hasattr(prot, name), name)
        self.assertTrue(os.path.exists(prot.outputModel.getFileName()))
        steps = [s.funcName.get() for s in prot.loadSteps()]
        from resolvecryoem.core.models import N_COPIES
        self.assertEqual(steps.count("refineModelStep"), 2 * N_COPIES)
        self.assertEqual(steps.count("modelHalfStep"), 2)
        with open(prot._getExtraPath("resolvecryoem", "results.json")) as fh:
            results = json.load(fh)
        self.assertEqual(len(results["model"]["refinement"]["half_map_1"]), N_COPIES)
        # the ChimeraX script overlays the composite model the run built on
        from resolvecryoem.viewers import ResolveCryoEMViewer
        paths = ResolveCryoEMViewer(project=self.proj, protocol=prot).savePlots(
            prot._getExtraPath("plots"))
        cxc = open(next(p for p in paths if p.endswith(".cxc"))).read()
        self.assertIn(os.path.basename(prot.outputModel.getFileName()), cxc)

    def test_half_map_checks_before_the_run(self):
        p = self.case.paths
        imports = []
        for key, sampling in (("half_map_1", self.sampling), ("half_map_2", self.sampling),
                              ("half_map_2", 1.1 * self.sampling)):
            prot = self.newProtocol(ProtImportVolumes, filesPath=str(p[key]),
                                    samplingRate=sampling)
            self.launchProtocol(prot)
            imports.append(prot.outputVolume)
        kw = dict(useHalfMapsFromVolume=False, inputSequence=None,
                  molecularMass=self.case.molecular_mass_Da)
        errors = self._resolve(inputHalf1=imports[0], inputHalf2=imports[2], **kw).validate()
        self.assertTrue(any("different sampling rates" in e for e in errors), errors)
        errors = self._resolve(inputHalf1=imports[0], inputHalf2=imports[0], **kw).validate()
        self.assertTrue(any("identical" in e for e in errors), errors)
        self.assertEqual(self._resolve(inputHalf1=imports[0], inputHalf2=imports[1],
                                       **kw).validate(), [])
        # the compare protocol refuses the same mismatch with the same words
        cmp_ = self.newProtocol(ProtResolveCryoEMCompareMaps, inputVolume1=imports[0],
                                inputVolume2=imports[2])
        self.assertTrue(any("different sampling rates" in e for e in cmp_.validate()))

    def test_compare_maps_protocol(self):
        p = self.case.paths
        imports = []
        for key in ("half_map_1", "truth"):
            prot = self.newProtocol(ProtImportVolumes, filesPath=str(p[key]),
                                    samplingRate=self.sampling)
            self.launchProtocol(prot)
            imports.append(prot.outputVolume)
        pdb = self.newProtocol(ProtImportPdb, inputPdbData=ProtImportPdb.IMPORT_FROM_FILES,
                               pdbFile=str(bundled_model()))
        self.launchProtocol(pdb)
        cmp_ = self.newProtocol(ProtResolveCryoEMCompareMaps, inputVolume1=imports[0],
                                inputVolume2=imports[1], inputModel=pdb.outputPdb)
        self.launchProtocol(cmp_)
        self.assertEqual(cmp_.outputVolume1.getDim(), imports[0].getDim())
        self.assertIn("Map-model", "\n".join(cmp_.summary()))
        self.assertEqual(len(cmp_.outputFSCs), 3)
        for name in ("outputVolume1", "outputVolume2", "outputFSCs"):
            self.assertIn(name, cmp_._possibleOutputs)
        from resolvecryoem.viewers import ResolveCryoEMCompareViewer
        paths = ResolveCryoEMCompareViewer(project=self.proj, protocol=cmp_).savePlots(
            cmp_._getExtraPath("plots"))
        for p in paths:
            self.assertTrue(os.path.getsize(p) > 0, p)
        self.assertIn(str(bundled_model().name), open(paths[-1]).read())


def test_discovery_lists_protocols_viewers_and_wizards():
    from pyworkflow.plugin import Domain
    protocols = Domain.getProtocols()
    assert "ProtResolveCryoEM" in protocols
    assert "ProtResolveCryoEMCompareMaps" in protocols
    assert "ResolveCryoEMViewer" in Domain.getViewers()
    assert "ResolveCryoEMCompareViewer" in Domain.getViewers()
    wizards = Domain.getWizards()
    assert "ResolveCryoEMResolutionWizard" in wizards
    assert "ResolveCryoEMSolventFractionWizard" in wizards
    assert Domain.getPlugin("resolvecryoem") is not None
    logo = ProtResolveCryoEM.getPluginLogoPath()
    assert logo and os.path.getsize(logo) > 0, logo
    assert ProtResolveCryoEMCompareMaps.getPluginLogoPath() == logo


def test_keyword_spellings_stay_in_step():
    """Every dataclass field: a CLI flag and a protocol attribute of the camelCase name
    (nproc comes from the parallel section's threads per step, symmetry from the symmetry
    group, voxel_size from Scipion's sampling rate)."""
    from resolvecryoem.cli import build_parser
    from resolvecryoem.core.params import cli_flag, param_fields, protocol_name
    options = {s for a in build_parser()._actions for s in a.option_strings}
    prot = ProtResolveCryoEM()
    attrs = {name for name, _ in prot.iterDefinitionAttributes()}
    from resolvecryoem.protocols.form_labels import FROM_ELSEWHERE
    for f in param_fields():
        assert cli_flag(f.name) in options
        expected = FROM_ELSEWHERE.get(f.name, protocol_name(f.name))
        if expected is not None:
            assert expected in attrs, f.name


def test_readme_facility_workflow_runs(tmp_path):
    """The README's scripted facility workflow, exactly as printed there: import half maps
    with a pixel size, import the sequence, density modification, next protocol."""
    import re
    import subprocess
    import sys
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"```python\n(# facility_run\.py.*?)```", readme, re.S)
    assert block, "README.md has no facility_run.py block"
    script = tmp_path / "facility_run.py"
    script.write_text(block.group(1))
    case = example_case(tmp_path / "data", box=48, resolution_A=4.0, seed=5)
    p = case.paths
    out = subprocess.run([sys.executable, str(script), str(p["half_map_1"]),
                          str(p["half_map_2"]), str(p["truth"]), str(case.voxel_size),
                          str(p["sequence"])], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "Verdict" in out.stdout
    assert f"({2 * case.voxel_size:.3f} A/px)" in out.stdout, out.stdout


def test_readme_hosts_conf_is_the_one_the_slurm_tests_use():
    import re
    from pathlib import Path
    from resolvecryoem.tests.test_slurm import HOSTS_CONF
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"```ini\n(\[localhost\].*?)```", readme, re.S)
    assert block and block.group(1) == HOSTS_CONF
