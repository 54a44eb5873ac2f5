"""Composite target and composite half map: independence of the halves, gain on truth."""
import numpy as np

from resolvecryoem.core.fourier import Shells, irfft, rfft
from resolvecryoem.core.fsc import fsc
from resolvecryoem.core.models import stage
from resolvecryoem.core.scoring import resolution_against_truth
from resolvecryoem.core.sharpening import lowpass
from resolvecryoem.core.simulate import simulate_half_maps

from ._models_case import RESOLUTION, small_case


def _setup(n_copies=4):
    st, atoms, truth, h1, h2, voxel, start = small_case()
    m = stage.Model(st, atoms, "small", [])
    copies = stage.refine_copies(m, h1, voxel, start, RESOLUTION, half=1, n_copies=n_copies)
    shells = Shells.for_box(h1.shape, voxel)
    return m, copies, shells, truth, h1, h2, voxel, start


def test_half_1_target_sees_half_2_only_through_per_shell_scalars():
    m, copies, shells, truth, h1, h2, voxel, start = _setup()
    keep = lowpass(shells, 2.5)
    O1, O2 = rfft(h1), rfft(h2)
    # Another half map 2: same signal, different noise in every voxel.
    _, h2b, _ = simulate_half_maps(truth, voxel, RESOLUTION, seed=7)
    O2b = rfft(h2b)
    cc = np.sqrt(np.clip(fsc(O1, O2, shells), 0, 1))
    args = (voxel, start, RESOLUTION, keep)
    comp_a, ta, sa = stage.model_half_map(m, copies, O1, h1.shape, O1, O2, 1, cc, *args)
    comp_b, tb, sb = stage.model_half_map(m, copies, O1, h1.shape, O1, O2b, 1, cc, *args)
    assert not np.allclose(sa.D, sb.D)  # the other half does enter, per shell
    # ... and only per shell: tau_b is tau_a filtered by the ratio of the shell scales.
    ratio = shells.expand(sb.D) / np.maximum(shells.expand(sa.D), 1e-30)
    assert np.allclose(irfft(rfft(ta.tau) * ratio, h1.shape), tb.tau, atol=1e-4 * np.abs(
        ta.tau).max())
    # With the per-shell scalars given, half map 2's voxels are not read at all.
    comp_c, tc, _ = stage.model_half_map(m, copies, O1, h1.shape, None, None, 1, cc, *args,
                                         stats=sa)
    assert np.array_equal(comp_c, comp_a) and np.array_equal(tc.var, ta.var)


def test_composite_half_map_is_closer_to_the_truth_near_the_model():
    m, copies, shells, truth, h1, h2, voxel, start = _setup()
    keep = lowpass(shells, 2.5)
    O1, O2 = rfft(h1), rfft(h2)
    cc = np.sqrt(np.clip(fsc(O1, O2, shells), 0, 1))
    comp, t, _ = stage.model_half_map(m, copies, O1, h1.shape, O1, O2, 1, cc, voxel, start,
                                      RESOLUTION, keep)
    env = t.p_model
    before = resolution_against_truth(h1, truth, voxel, env)
    after = resolution_against_truth(irfft(comp, h1.shape), truth, voxel, env)
    assert after < before - 0.2, (before, after)
    # Away from the model the half map is untouched.
    far = (t.p_model == 0)
    assert np.allclose(irfft(comp, h1.shape)[far], h1[far], atol=1e-3 * np.abs(h1).max())


def test_target_confidence_drops_where_models_and_map_disagree():
    m, copies, shells, truth, h1, h2, voxel, start = _setup()
    O1, O2 = rfft(h1), rfft(h2)
    # Residues 30-35 placed 2.5 A off in every copy, as a wrong model would have them.
    sel = (m.atoms.residue >= 30) & (m.atoms.residue < 36)
    wrong = [stage.RefinedCopy(c.xyz + sel[:, None] * np.array([2.5, 0, 0]), c.occ, {})
             for c in copies]
    t, _ = stage.composite_target(m, wrong, h1, O1, O2, 1, voxel, start, RESOLUTION)
    conf = t.confidence()
    idx = np.rint((wrong[0].xyz[:, ::-1] - start) / voxel).astype(int)
    at = conf[tuple(idx.T)]
    assert np.median(at[sel]) < 0.7 * np.median(at[~sel]), (np.median(at[sel]),
                                                            np.median(at[~sel]))
    # The likelihood form: var / P_model is huge where the target does not apply.
    assert np.all(t.var[t.p_model == 0] > 1e3 * t.var_shells)


def test_map_model_fsc_of_half_1_models_against_each_half():
    m, copies, shells, truth, h1, h2, voxel, start = _setup()
    own, d_own = stage.model_map_fsc(m, copies, rfft(h1), h1.shape, voxel, start)
    other, d_other = stage.model_map_fsc(m, copies, rfft(h2), h1.shape, voxel, start)
    assert np.all(np.abs(own) <= 1 + 1e-6) and 2.0 < d_other < 8.0  # float32 rounding
    # The models were refined against half 1: they agree with it at least as well.
    assert np.mean(own[1:]) >= np.mean(other[1:]) - 0.01


def test_the_target_with_a_variance_map_enters_map_phasing():
    from resolvecryoem.core.histograms import DensityHistogram
    from resolvecryoem.core.likelihood import likelihood_terms
    m, copies, shells, truth, h1, h2, voxel, start = _setup(n_copies=3)
    t, _ = stage.composite_target(m, copies, h1, rfft(h1), rfft(h2), 1, voxel, start,
                                  RESOLUTION)
    centres = np.linspace(-10, 10, 512)
    flat = DensityHistogram(centres, np.full(512, 1 / 20.0))
    pm = np.ones(h1.shape, np.float32)
    base = likelihood_terms(h1, pm, flat, flat)
    with_t = likelihood_terms(h1, pm, flat, flat, target=(t.tau, t.var))
    # With flat histograms g' is the target's alone, -(rho - tau) / var: nil where it is off.
    expect = base.g1 - (h1 - t.tau) / t.var
    assert np.allclose(with_t.g1, expect, rtol=1e-4, atol=1e-6)
    off = t.p_model == 0
    assert np.abs(with_t.g1[off]).max() < 1e-3 * np.abs(with_t.g1[~off]).max()
