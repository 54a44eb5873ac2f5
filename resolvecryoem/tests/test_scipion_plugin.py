"""The Scipion plugin in real headless projects: import, run, outputs, chaining, validation,
discovery, viewers. Environment from the repository's root conftest.py."""
import os
import tempfile

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
        cxc = open(paths[3]).read()
        self.assertIn("voxelSize", cxc)
        self.assertIn("origin", cxc)
        # wizards compute what they fill in
        from resolvecryoem.wizards.wizards import estimate_resolution, estimate_solvent_fraction
        self.assertAlmostEqual(estimate_resolution(prot), 4.0, delta=0.4)
        fraction, mass = estimate_solvent_fraction(prot)
        self.assertTrue(0.5 < fraction < 0.99)
        self.assertAlmostEqual(mass, self.case.molecular_mass_Da, delta=0.02 * mass)

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
                             inputMask=imask.outputMask)
        self.launchProtocol(prot)
        self.assertTrue(prot.outputVolume.hasHalfMaps())

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
        self.assertTrue(any("not available yet" in e for e in prot.validate()))
        pdb = self.newProtocol(ProtImportPdb, inputPdbData=ProtImportPdb.IMPORT_FROM_FILES,
                               pdbFile=str(bundled_model()))
        self.launchProtocol(pdb)
        prot = self._resolve(inputModel=pdb.outputPdb)
        self.assertTrue(any("not available yet" in e for e in prot.validate()))
        # a mask of another box
        mask_path = os.path.join(self.dataDir, "small_mask.mrc")
        mapio.write_map(mask_path, np.ones((40, 40, 40), np.float32),
                        mapio.map_info((40, 40, 40), self.sampling))
        imask = self.newProtocol(ProtImportMask, maskPath=mask_path, samplingRate=self.sampling)
        self.launchProtocol(imask)
        prot = self._resolve(inputMask=imask.outputMask)
        self.assertTrue(any("mask has a box" in e for e in prot.validate()))
        self.assertEqual(self._resolve().validate(), [])

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


def test_discovery_lists_protocols_viewers_and_wizards():
    from pyworkflow.plugin import Domain
    protocols = Domain.getProtocols()
    assert "ProtResolveCryoEM" in protocols
    assert "ProtResolveCryoEMCompareMaps" in protocols
    assert "ResolveCryoEMViewer" in Domain.getViewers()
    wizards = Domain.getWizards()
    assert "ResolveCryoEMResolutionWizard" in wizards
    assert "ResolveCryoEMSolventFractionWizard" in wizards
    assert Domain.getPlugin("resolvecryoem") is not None


def test_keyword_spellings_stay_in_step():
    """Every dataclass field: a CLI flag and a protocol attribute of the camelCase name
    (nproc comes from the parallel section's threads, symmetry from the symmetry group)."""
    from resolvecryoem.cli import build_parser
    from resolvecryoem.core.params import cli_flag, param_fields, protocol_name
    options = {s for a in build_parser()._actions for s in a.option_strings}
    prot = ProtResolveCryoEM()
    attrs = {name for name, _ in prot.iterDefinitionAttributes()}
    for f in param_fields():
        assert cli_flag(f.name) in options
        expected = {"nproc": "numberOfThreads", "symmetry": "symmetryGroup"}.get(
            f.name, protocol_name(f.name))
        assert expected in attrs, f.name
