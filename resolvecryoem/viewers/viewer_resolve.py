"""Viewers of ProtResolveCryoEM: FSC curves, histograms, slices, ChimeraX, a text report.

Only presentation here: every number comes from the run's results.json, verdict.json and the
maps it wrote.  Each plot is built by a function that returns an EmPlotter, so it works with
the Agg backend (tests save them as PNG) as well as on screen.
"""
import os

import numpy as np
import pyworkflow.protocol.params as params
from pwem.viewers import ChimeraView, EmPlotter
from pyworkflow.viewer import DESKTOP_TKINTER, WEB_DJANGO, ProtocolViewer, TextView

from ..core import mapio
from ..core.fsc import fsc_from_cc
from ..core.pipeline import OUTPUTS
from ..protocols import ProtResolveCryoEM


def fsc_plotter(results: dict, verdict: dict | None = None) -> EmPlotter:
    """FSC before and after on one scale (corrected CC_ref shown as its equivalent half-map
    FSC, CC^2/(2 - CC^2)), the independent cross-FSCs, and the 0.143 and 0.5 lines."""
    f = results["fsc"]
    s = np.asarray(f["s"])
    r = results["resolution"]
    title = (f"{r['half_map_fsc']:.2f} A before, {r['after_corrected']:.2f} A after "
             f"(corrected)")
    if verdict:
        title += f"; verdict: {verdict['verdict']}"
    plotter = EmPlotter(x=1, y=1, windowTitle="FSC", figsize=(8, 6))
    ax = plotter.createSubPlot(title, "resolution (1/A)", "FSC")
    ax.plot(s[1:], np.asarray(f["half_maps_before"])[1:], label="half maps before")
    ax.plot(s[1:], fsc_from_cc(f["cc_ref_after"])[1:],
            label="after: corrected CC_ref as half-map FSC")
    ax.plot(s[1:], np.asarray(f["denmod_half_1_vs_original_half_2"])[1:], ":",
            label="DM half 1 vs original half 2")
    ax.plot(s[1:], np.asarray(f["denmod_half_2_vs_original_half_1"])[1:], ":",
            label="DM half 2 vs original half 1")
    for y, style in ((0.143, "--"), (0.5, "-.")):
        ax.axhline(y, color="grey", linestyle=style, linewidth=0.8)
    ax.set_ylim(-0.1, 1.05)
    ax.legend(fontsize=8)
    return plotter


def histogram_plotter(results: dict) -> EmPlotter:
    """Expected half-map density histograms of the solvent and molecule regions."""
    h = results["histograms"]
    plotter = EmPlotter(x=1, y=1, windowTitle="Density histograms", figsize=(8, 5))
    ax = plotter.createSubPlot("Density histograms (half-map expectation)", "map value",
                               "probability density")
    ax.plot(h["centres"], h["solvent"], label="solvent")
    ax.plot(h["centres"], h["molecule"], label="molecule")
    ax.set_yscale("log")
    ax.set_ylim(bottom=max(1e-6, min(min(h["solvent"]), min(h["molecule"]))))
    ax.legend()
    return plotter


def slices_plotter(before_path, after_path) -> EmPlotter:
    """Central slices (xy, xz, yz) of the map before and after density modification."""
    before, _ = mapio.read_map(before_path)
    after, _ = mapio.read_map(after_path)
    plotter = EmPlotter(x=2, y=3, windowTitle="Central slices", figsize=(10, 7))
    for row, (name, m) in enumerate((("before", before), ("after", after))):
        c = [n // 2 for n in m.shape]
        for col, (label, sl) in enumerate((("xy", m[c[0]]), ("xz", m[:, c[1]]),
                                           ("yz", m[:, :, c[2]]))):
            ax = plotter.createSubPlot(f"{name}: {label}", "", "")
            ax.imshow(sl, cmap="gray", origin="lower")
            ax.set_xticks([])
            ax.set_yticks([])
    return plotter


def chimerax_script(path, maps, info) -> str:
    """Write a ChimeraX .cxc opening the maps with the input's voxel size and origin."""
    vz, vy, vx = info.voxel_size
    oz, oy, ox = info.start_A
    lines = []
    for i, m in enumerate(maps, start=1):
        lines.append(f"open {os.path.abspath(m)}")
        lines.append(f"volume #{i} voxelSize {vx:.4f},{vy:.4f},{vz:.4f} "
                     f"origin {ox:.3f},{oy:.3f},{oz:.3f}")
    lines.append("tile")
    mapio.atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def report_text(results: dict, verdict: dict | None = None) -> str:
    r = results["resolution"]
    rv = results["r_values"]
    lines = ["resolvecryoem report", "",
             f"half-map FSC = 0.143:                {r['half_map_fsc']:.2f} A",
             f"resolution used:                     {r['used']:.2f} A",
             f"density modification resolution:     {r['dm_resolution']:.2f} A",
             f"after (corrected CC_ref = 0.5):      {r['after_corrected']:.2f} A",
             f"after (independent cross-FSCs):      {r['after_cross']:.2f} A",
             f"solvent fraction (input / analysed): {results['solvent_fraction']['input_box']:.3f}"
             f" / {results['solvent_fraction']['boxed']:.3f}", "",
             f"R-values (half 1): {', '.join(f'{x:.3f}' for x in rv['half_map_1'])}",
             f"R-values (half 2): {', '.join(f'{x:.3f}' for x in rv['half_map_2'])}",
             f"  {rv['definition']}"]
    if verdict:
        lines += ["", f"verdict: density modification {verdict['verdict']} "
                      f"({verdict['reason']})"]
    if results.get("warnings"):
        lines += ["", "warnings:"] + [f"  {w}" for w in results["warnings"]]
    return "\n".join(lines) + "\n"


class ResolveCryoEMViewer(ProtocolViewer):
    """Results of a density-modification run."""
    _label = "viewer resolve cryo-EM"
    _targets = [ProtResolveCryoEM]
    _environments = [DESKTOP_TKINTER, WEB_DJANGO]

    def _defineParams(self, form):
        form.addSection(label="Results")
        form.addParam("showFsc", params.LabelParam, label="FSC curves before / after")
        form.addParam("showHistograms", params.LabelParam, label="Density histograms")
        form.addParam("showSlices", params.LabelParam, label="Central slices before / after")
        form.addParam("showChimera", params.LabelParam, label="Maps in ChimeraX")
        form.addParam("showReport", params.LabelParam, label="Report (R-values, resolutions)")

    def _getVisualizeDict(self):
        return {"showFsc": self._showFsc, "showHistograms": self._showHistograms,
                "showSlices": self._showSlices, "showChimera": self._showChimera,
                "showReport": self._showReport}

    def _outDir(self):
        return self.protocol._getOutDir()

    def _showFsc(self, e=None):
        return [fsc_plotter(self.protocol.getResults(), self.protocol.getVerdict())]

    def _showHistograms(self, e=None):
        return [histogram_plotter(self.protocol.getResults())]

    def _showSlices(self, e=None):
        d = self._outDir()
        return [slices_plotter(os.path.join(d, OUTPUTS["initial_map"]),
                               os.path.join(d, OUTPUTS["denmod_map"]))]

    def _showChimera(self, e=None):
        d = self._outDir()
        maps = [os.path.join(d, OUTPUTS["initial_map"]), os.path.join(d, OUTPUTS["denmod_map"])]
        info = mapio.read_map(maps[1])[1]
        path = chimerax_script(self.protocol._getExtraPath("resolvecryoem.cxc"), maps, info)
        return [ChimeraView(path)]

    def _showReport(self, e=None):
        path = self.protocol._getExtraPath("report.txt")
        mapio.atomic_write_text(path, report_text(self.protocol.getResults(),
                                                  self.protocol.getVerdict()))
        return [TextView(path)]

    def savePlots(self, out_dir):
        """Write every plot as PNG (and the .cxc and report) into ``out_dir``; returns paths."""
        os.makedirs(out_dir, exist_ok=True)
        paths = []
        for name, fn in (("fsc", self._showFsc), ("histograms", self._showHistograms),
                         ("slices", self._showSlices)):
            p = os.path.join(out_dir, f"{name}.png")
            fn()[0].getFigure().savefig(p)
            paths.append(p)
        d = self._outDir()
        maps = [os.path.join(d, OUTPUTS["initial_map"]), os.path.join(d, OUTPUTS["denmod_map"])]
        paths.append(chimerax_script(os.path.join(out_dir, "resolvecryoem.cxc"), maps,
                                     mapio.read_map(maps[1])[1]))
        p = os.path.join(out_dir, "report.txt")
        mapio.atomic_write_text(p, report_text(self.protocol.getResults(),
                                               self.protocol.getVerdict()))
        paths.append(p)
        return paths
