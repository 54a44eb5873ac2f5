"""What the protocol form shows for each parameter: a label a microscopist reads, with units,
and the group it sits in.  Help texts come from the dataclass (shared with the command line).

A field missing here still reaches the form (its name as label, in 'Other'), so a new core
keyword never disappears from Scipion; the test of keyword spellings lists them.
"""

LABELS = {
    "copies": "Copies of the sequence",
    "molecular_mass": "Molecular mass (Da)",
    "solvent_fraction": "Solvent fraction (0-1)",
    "resolution": "Resolution (A)",
    "dm_resolution": "Density modification resolution (A)",
    "dm_resolution_ratio": "Automatic DM resolution / resolution",
    "box_before_analysis": "Trim the box to the molecule?",
    "box_cushion": "Cushion around the molecule (A)",
    "density_modify_unsharpened_maps": "Modify unsharpened half maps?",
    "b_iso": "Overall B before DM (A^2)",
    "target_b_ratio": "Overall B / resolution (A)",
    "remove_aniso": "Remove anisotropy?",
    "cycles": "Cycles",
    "use_molecule_histogram": "Use the molecule's density histogram?",
    "real_space_weighting": "Real-space weighting?",
    "sigma_weighting": "Sigma weighting?",
    "final_scale_with_fsc_ref": "Scale by the estimated CC with the true map?",
    "geometric_scaling": "Geometric scaling?",
    "spectral_scaling": "Scale to a macromolecule's spectrum?",
    "local_sharpening": "Local sharpening (writes a local resolution map)?",
    "blur_by_resolution": "Blur by 2 x resolution (A^2)?",
    "density_modify_with_model": "Automatically built models (without an atomic model)?",
    "model_sharpening": "Model-based sharpening of the final map?",
}

# Expert groups of the 'Density modification' section, in form order.
EXPERT_GROUPS = (
    ("Boxing", ("box_before_analysis", "box_cushion")),
    ("Sharpening before density modification",
     ("dm_resolution_ratio", "density_modify_unsharpened_maps", "b_iso", "target_b_ratio",
      "remove_aniso")),
    ("Density modification", ("cycles", "use_molecule_histogram")),
    ("Final map", ("final_scale_with_fsc_ref", "geometric_scaling", "spectral_scaling",
                   "local_sharpening", "blur_by_resolution", "real_space_weighting",
                   "sigma_weighting")),
    ("Model", ("density_modify_with_model", "model_sharpening")),
)

# Fields that do not come from a form field of their own name.
FROM_ELSEWHERE = {
    "nproc": "binThreads",          # threads of each step's program (parallel section)
    "symmetry": "symmetryGroup",    # Scipion's symmetry group and order
    "voxel_size": None,             # Scipion's sampling rate of the half maps
}


def label(name: str) -> str:
    return LABELS.get(name, name.replace("_", " ").capitalize())
