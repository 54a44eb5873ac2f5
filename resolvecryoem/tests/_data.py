"""Where the optional shared data lives: the `shared` folder beside the repository, or
$RESOLVECRYOEM_SHARED_DATA (as for the benchmarks, e.g. in a git worktree elsewhere)."""
import os
from pathlib import Path

import pytest

SHARED_DATA = Path(os.environ.get("RESOLVECRYOEM_SHARED_DATA")
                   or Path(__file__).resolve().parents[3] / "shared" / "data")


def shared_file(*parts) -> Path:
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"optional shared data {p} is absent (put the shared folder beside the "
                    "repository or set RESOLVECRYOEM_SHARED_DATA)")
    return p
