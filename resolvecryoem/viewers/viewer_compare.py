"""Viewer of ProtResolveCryoEMCompareMaps: map-map and map-model FSC, slices, ChimeraX."""
import json
import os

import numpy as np
import pyworkflow.protocol.params as params
from pwem.viewers import ChimeraView, EmPlotter
from pyworkflow.viewer import DESKTOP_TKINTER, WEB_DJANGO, ProtocolViewer

from ..core import mapio
from ..protocols import ProtResolveCryoEMCompareMaps
from .viewer_resolve import _slices, chimerax_script, resolution_axis


def compare_fsc_plotter(r: dict) -> EmPlotter:
    """Map-map FSC and, with a model, each map's FSC against it (around the model)."""
    s = np.asarray(r["s"])
    plotter = EmPlotter(x=1, y=1, windowTitle="Compare maps: FSC", figsize=(8, 6))
    ax = plotter.createSubPlot(f"map-map FSC = 0.5 at {r['map_map_resolution_0.5']:.2f} A",
                               "resolution (A)", "FSC")
    resolution_axis(ax)
    ax.plot(s[1:], np.asarray(r["map_map_fsc"])[1:], label="map 1 vs map 2")
    if "map_model_fsc_a_envelope" in r:
        ax.plot(s[1:], np.asarray(r["map_model_fsc_a_envelope"])[1:],
                label="map 1 vs model (around the model)")
        ax.plot(s[1:], np.asarray(r["map_model_fsc_b_envelope"])[1:],
                label="map 2 vs model (around the model)")
    ax.axhline(0.5, color="grey", linestyle="-.", linewidth=0.8)
    ax.set_ylim(-0.1, 1.05)
    ax.legend(fontsize=8)
    return plotter


class ResolveCryoEMCompareViewer(ProtocolViewer):
    """Results of a map comparison (matched sharpening)."""
    _label = "viewer compare maps"
    _targets = [ProtResolveCryoEMCompareMaps]
    _environments = [DESKTOP_TKINTER, WEB_DJANGO]

    def _defineParams(self, form):
        form.addSection(label="Results")
        form.addParam("showFsc", params.LabelParam, label="Map-map and map-model FSC")
        form.addParam("showSlices", params.LabelParam, label="Central slices of the matched maps")
        form.addParam("showChimera", params.LabelParam, label="Matched maps in ChimeraX")

    def _getVisualizeDict(self):
        return {"showFsc": self._showFsc, "showSlices": self._showSlices,
                "showChimera": self._showChimera}

    def _results(self):
        with open(self.protocol._getExtraPath("compare.json")) as fh:
            return json.load(fh)

    def _showFsc(self, e=None):
        return [compare_fsc_plotter(self._results())]

    def _showSlices(self, e=None):
        r = self._results()
        return [_slices([("map 1 (matched)", mapio.read_map(r["matched_a"])[0]),
                         ("map 2 (matched)", mapio.read_map(r["matched_b"])[0])],
                        "Matched maps")]

    def _writeChimera(self, path):
        r = self._results()
        maps = [r["matched_a"], r["matched_b"]]
        model = self.protocol.inputModel.get()
        return chimerax_script(path, maps, mapio.read_map(maps[0], header_only=True)[1],
                               model=model.getFileName() if model is not None else None,
                               voxel_size=self.protocol.inputVolume1.get().getSamplingRate())

    def _showChimera(self, e=None):
        return [ChimeraView(self._writeChimera(self.protocol._getExtraPath("compare.cxc")))]

    def savePlots(self, out_dir):
        """Write the plots as PNG and the .cxc into ``out_dir``; returns the paths."""
        os.makedirs(out_dir, exist_ok=True)
        paths = []
        for name, fn in (("compare_fsc", self._showFsc), ("compare_slices", self._showSlices)):
            p = os.path.join(out_dir, f"{name}.png")
            fn()[0].getFigure().savefig(p)
            paths.append(p)
        paths.append(self._writeChimera(os.path.join(out_dir, "compare.cxc")))
        return paths
