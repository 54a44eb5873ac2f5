"""Where the optional shared data lives (the `shared` folder beside the repository)."""
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def shared_file(*parts) -> Path:
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"optional shared data {p} is absent")
    return p
