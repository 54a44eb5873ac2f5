"""Parameter validation: every numeric keyword finite and within its limits, named in errors."""
import math

import pytest

from resolvecryoem.core.errors import InputError
from resolvecryoem.core.params import (DensityModificationParams, check_dm_resolution,
                                       field_type, limits_text, param_fields, param_metadata)

NUMERIC = [f.name for f in param_fields() if field_type(f.name)[0] in (int, float)]


def test_every_numeric_keyword_has_limits():
    for name in NUMERIC:
        assert limits_text(name), name


@pytest.mark.parametrize("name", NUMERIC)
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, "3", True])
def test_non_finite_or_non_numbers_are_refused_by_name(name, value):
    with pytest.raises(InputError, match=f"^{name} must be"):
        DensityModificationParams(**{name: value})


@pytest.mark.parametrize("name", NUMERIC)
def test_values_just_outside_the_limits_are_refused_and_the_limits_accepted(name):
    m = param_metadata(name)
    base = field_type(name)[0]
    step = 1 if base is int else 1e-6 * max(1.0, abs(m.get("maximum", m.get("below", 1))))
    outside, inside = [], []
    if "minimum" in m:
        outside.append(m["minimum"] - step)
        inside.append(m["minimum"])
    if "above" in m:  # (0 for a resolution means automatic)
        outside.append(m["above"] - (step if name.endswith("resolution") else 0))
    if "maximum" in m:
        outside.append(m["maximum"] + step)
        inside.append(m["maximum"])
    if "below" in m:
        outside.append(m["below"])
    for v in outside:
        with pytest.raises(InputError, match=f"^{name} must be"):
            DensityModificationParams(**{name: base(v)})
    for v in inside:
        if name in ("resolution", "dm_resolution") and v == 0:
            continue
        p = DensityModificationParams(**{name: base(v)})
        assert getattr(p, name) == v


def test_zero_resolution_means_automatic_and_whole_floats_are_whole_numbers():
    p = DensityModificationParams(resolution=0, dm_resolution=0.0, cycles=2.0, copies=3)
    assert p.resolution is None and p.dm_resolution is None
    assert p.cycles == 2 and isinstance(p.cycles, int)
    with pytest.raises(InputError, match="cycles must be a whole number"):
        DensityModificationParams(cycles=2.5)
    with pytest.raises(InputError, match="remove_aniso must be True or False"):
        DensityModificationParams(remove_aniso="no")


def test_dm_resolution_against_resolution():
    DensityModificationParams(resolution=4.0, dm_resolution=2.4)
    DensityModificationParams(resolution=4.0, dm_resolution=6.0)
    with pytest.raises(InputError, match=r"dm_resolution 8 A is 2.00 x resolution \(4 A\)"):
        DensityModificationParams(resolution=4.0, dm_resolution=8.0)
    with pytest.raises(InputError, match="dm_resolution 1 A"):
        check_dm_resolution(1.0, 4.0)


def test_round_trip_through_a_dict():
    p = DensityModificationParams(resolution=3.5, b_iso=40, symmetry="C70", nproc=2)
    assert DensityModificationParams.from_dict(p.to_dict()) == p
    with pytest.raises(InputError, match="unknown parameters: frobnicate"):
        DensityModificationParams.from_dict(dict(p.to_dict(), frobnicate=1))
