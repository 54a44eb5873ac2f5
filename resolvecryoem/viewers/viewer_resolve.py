"""Viewers of ProtResolveCryoEM: FSC curves, histograms, slices, ChimeraX, a text report.

Only presentation here: every number comes from the run's results.json (verdict included) and the
maps it wrote.  Each plot is built by a function that returns an EmPlotter, so it works with
the Agg backend (tests save them as PNG) as well as on screen.
"""
import os

import numpy as np
import pyworkflow.protocol.params as params
from pwem.viewers import ChimeraView, EmPlotter
from pyworkflow.viewer import DESKTOP_TKINTER, WEB_DJANGO, ProtocolViewer, TextView

from ..core import mapio
from ..core.pipeline import OUTPUTS
from ..protocols import ProtResolveCryoEM


def fsc_plotter(results: dict, verdict: dict | None = None) -> EmPlotter:
    """FSC before and after on one scale (the delivered map's CC with the truth shown as its
    equivalent half-map FSC, CC^2/(2 - CC^2)), the independent cross-FSCs, and the 0.143 and
    0.5 lines."""
    f = results["fsc"]
    s = np.asarray(f["s"])
    r = results["resolution"]
    title = (f"{r['half_map_fsc']:.2f} A before, {r['after_corrected']:.2f} A after "
             f"(corrected)")
    if verdict:
        title += f"; verdict: {verdict['verdict']}"
    plotter = EmPlotter(x=1, y=1, windowTitle="FSC", figsize=(8, 6))
    ax = plotter.createSubPlot(title, "resolution (A)", "FSC")
    resolution_axis(ax)
    ax.plot(s[1:], np.asarray(f["half_maps_before"])[1:], label="half maps before")
    ax.plot(s[1:], np.asarray(f["fsc_equivalent_after"])[1:],
            label="after: delivered map, as equivalent half-map FSC")
    ax.plot(s[1:], np.asarray(f["denmod_half_1_vs_original_half_2"])[1:], ":",
            label="DM half 1 vs original half 2")
    ax.plot(s[1:], np.asarray(f["denmod_half_2_vs_original_half_1"])[1:], ":",
            label="DM half 2 vs original half 1")
    for y, style in ((0.143, "--"), (0.5, "-.")):
        ax.axhline(y, color="grey", linestyle=style, linewidth=0.8)
    ax.set_ylim(-0.1, 1.05)
    ax.legend(fontsize=8)
    return plotter


def resolution_axis(ax):
    """Curves are drawn against spatial frequency s (1/A, linear spacing of the shells); the
    ticks are labelled with the resolution 1/s in A."""
    from matplotlib.ticker import FuncFormatter
    ax.xaxis.set_major_formatter(FuncFormatter(lambda s, _: f"{1 / s:.1f}" if s > 0 else ""))


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
    return _slices([("before", mapio.read_map(before_path)[0]),
                    ("after", mapio.read_map(after_path)[0])], "Central slices")


def difference_map(denmod, half_1, half_2):
    """denmod - k x (half-map average), k the least-squares scale: what density modification
    changed, not the overall scale between the two maps."""
    avg = 0.5 * (half_1.astype(np.float64) + half_2)
    a = avg - avg.mean()
    d = denmod - denmod.mean()
    k = float((a * d).sum() / max((a * a).sum(), 1e-30))
    return (d - k * a).astype(np.float32)


def difference_plotter(denmod_path, half_1_path, half_2_path) -> EmPlotter:
    """Central slices of the density-modified map and of its difference from the half-map
    average (same grey scale for both rows)."""
    denmod = mapio.read_map(denmod_path)[0]
    diff = difference_map(denmod, mapio.read_map(half_1_path)[0],
                          mapio.read_map(half_2_path)[0])
    lim = float(np.abs(denmod - denmod.mean()).max())
    return _slices([("density-modified", denmod - denmod.mean()),
                    ("difference (DM - k x half-map average)", diff)],
                   "Difference map", vmin=-lim, vmax=lim)


def local_resolution_plotter(path) -> EmPlotter:
    """Central slices of the local resolution map (A), coloured, with a colour bar."""
    m = mapio.read_map(path)[0]
    plotter = _slices([("local resolution (A)", m)], "Local resolution", cmap="jet_r",
                      vmin=float(m.min()), vmax=float(m.max()))
    fig = plotter.getFigure()
    fig.colorbar(fig.axes[-1].images[0], ax=fig.axes, label="resolution (A)")
    return plotter


def _slices(rows, title, cmap="gray", vmin=None, vmax=None) -> EmPlotter:
    plotter = EmPlotter(x=len(rows), y=3, windowTitle=title, figsize=(10, 3.5 * len(rows)))
    for name, m in rows:
        c = [n // 2 for n in m.shape]
        for label, sl in (("xy", m[c[0]]), ("xz", m[:, c[1]]), ("yz", m[:, :, c[2]])):
            ax = plotter.createSubPlot(f"{name}: {label}", "", "")
            ax.imshow(sl, cmap=cmap, origin="lower", vmin=vmin, vmax=vmax)
            ax.set_xticks([])
            ax.set_yticks([])
    return plotter


def contour_level(map_path, molecular_volume_A3) -> float:
    """Suggested contour: the density above which the map encloses the molecular volume."""
    m, info = mapio.read_map(map_path)
    n = int(round(molecular_volume_A3 / float(np.prod(info.voxel_size))))
    n = min(max(n, 1), m.size)
    return float(np.partition(m.ravel(), m.size - n)[m.size - n])


def chimerax_script(path, maps, info, levels=None, model=None, local_resolution=None,
                    voxel_size=None) -> str:
    """Write a ChimeraX .cxc opening the maps with the given voxel size (Scipion's sampling;
    default the header's) and the input's origin, each at its suggested contour level; the
    model (when given) overlaid; the last map coloured by the local resolution map (when
    given, its values in A)."""
    vz, vy, vx = info.voxel_size if voxel_size is None else (voxel_size,) * 3
    oz, oy, ox = info.start_A
    lines = []
    for i, m in enumerate(maps, start=1):
        lines.append(f"open {os.path.abspath(m)}")
        lines.append(f"volume #{i} voxelSize {vx:.4f},{vy:.4f},{vz:.4f} "
                     f"origin {ox:.3f},{oy:.3f},{oz:.3f}"
                     + (f" level {levels[i - 1]:.5g}" if levels else ""))
    n = len(maps)
    if local_resolution is not None:
        n += 1
        res = mapio.read_map(local_resolution)[0]
        lines += [f"open {os.path.abspath(local_resolution)}",
                  f"volume #{n} voxelSize {vx:.4f},{vy:.4f},{vz:.4f} "
                  f"origin {ox:.3f},{oy:.3f},{oz:.3f}",
                  f"volume #{n} hide",
                  f"color sample #{len(maps)} map #{n} palette rainbow range "
                  f"{float(res.min()):.2f},{float(res.max()):.2f}",
                  f"key rainbow :{float(res.min()):.1f}A :{float(res.max()):.1f}A"]
    if model is not None:
        lines += [f"open {os.path.abspath(model)}", f"style #{n + 1} stick",
                  f"volume #1-{len(maps)} style mesh"]
    else:
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
        form.addParam("showDifference", params.LabelParam,
                      label="Difference map (density-modified - half-map average)")
        form.addParam("showLocalResolution", params.LabelParam,
                      label="Local resolution (with local sharpening)")
        form.addParam("showChimera", params.LabelParam,
                      label="Maps in ChimeraX (suggested contour, model, local resolution)")
        form.addParam("showReport", params.LabelParam, label="Report (R-values, resolutions)")

    def _getVisualizeDict(self):
        return {"showFsc": self._showFsc, "showHistograms": self._showHistograms,
                "showSlices": self._showSlices, "showDifference": self._showDifference,
                "showLocalResolution": self._showLocalResolution,
                "showChimera": self._showChimera, "showReport": self._showReport}

    def _out(self, key):
        return os.path.join(self.protocol._getOutDir(), OUTPUTS[key])

    def _showFsc(self, e=None):
        return [fsc_plotter(self.protocol.getResults(), self.protocol.getVerdict())]

    def _showHistograms(self, e=None):
        return [histogram_plotter(self.protocol.getResults())]

    def _showSlices(self, e=None):
        return [slices_plotter(self._out("initial_map"), self._out("denmod_map"))]

    def _showDifference(self, e=None):
        h1, h2 = self.protocol.getHalfMapPaths()
        return [difference_plotter(self._out("denmod_map"), h1, h2)]

    def _showLocalResolution(self, e=None):
        path = self._out("local_resolution")
        if not os.path.exists(path):
            return [self.infoMessage("No local resolution map: run with 'Local sharpening' "
                                     "to get one.", "Local resolution")]
        return [local_resolution_plotter(path)]

    def _writeChimera(self, path):
        maps = [self._out("initial_map"), self._out("denmod_map")]
        volume = self.protocol.getResults()["molecular_volume_A3"]
        # The model the run built on (the composite of the refined copies) when there is
        # one, else the input model.
        model = getattr(self.protocol, "outputModel", None) or self.protocol.inputModel.get()
        local = self._out("local_resolution")
        return chimerax_script(path, maps, mapio.read_map(maps[1], header_only=True)[1],
                               levels=[contour_level(m, volume) for m in maps],
                               model=model.getFileName() if model is not None else None,
                               local_resolution=local if os.path.exists(local) else None,
                               voxel_size=self.protocol.getSamplingRate())

    def _showChimera(self, e=None):
        return [ChimeraView(self._writeChimera(self.protocol._getExtraPath("resolvecryoem.cxc")))]

    def _showReport(self, e=None):
        path = self.protocol._getExtraPath("report.txt")
        mapio.atomic_write_text(path, report_text(self.protocol.getResults(),
                                                  self.protocol.getVerdict()))
        return [TextView(path)]

    def savePlots(self, out_dir):
        """Write every plot as PNG (and the .cxc and report) into ``out_dir``; returns paths."""
        os.makedirs(out_dir, exist_ok=True)
        paths = []
        plots = [("fsc", self._showFsc), ("histograms", self._showHistograms),
                 ("slices", self._showSlices), ("difference", self._showDifference)]
        if os.path.exists(self._out("local_resolution")):
            plots.append(("local_resolution", self._showLocalResolution))
        for name, fn in plots:
            p = os.path.join(out_dir, f"{name}.png")
            fn()[0].getFigure().savefig(p)
            paths.append(p)
        paths.append(self._writeChimera(os.path.join(out_dir, "resolvecryoem.cxc")))
        p = os.path.join(out_dir, "report.txt")
        mapio.atomic_write_text(p, report_text(self.protocol.getResults(),
                                               self.protocol.getVerdict()))
        paths.append(p)
        return paths
