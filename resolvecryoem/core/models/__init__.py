"""Model-based density modification from a supplied atomic model (issue 8; ALGORITHM.md
section 9).  Pure functions over arrays; :mod:`.stage` holds the entry points."""
from . import building, ensemble, sharpening, structure  # noqa: F401
from .stage import (Model, N_BUILT, N_COPIES, composite_model, composite_target,  # noqa
                    load_copy, load_model, model_half_map, model_map_fsc, prepare_map,
                    refine_copies, refine_one, refinement_cache, save_copy)
