"""Checks on Scipion inputs shared by both protocols (before the run, in _validate/_warnings)."""
import filecmp
import os

# Relative tolerance on sampling rates (A/px): the same in both protocols.
SAMPLING_RTOL = 1e-3


def sampling_error(a: float, b: float, what_a: str, what_b: str):
    """Message when two Scipion sampling rates (A/px) differ, else None."""
    if abs(a - b) > SAMPLING_RTOL * max(a, b):
        return (f"{what_a} and {what_b} have different sampling rates in Scipion ({a:.4f} and "
                f"{b:.4f} A/px); resample one of them first.")
    return None


def header_sampling_warning(path: str, header_voxel, sampling: float):
    """Warning when an MRC header's voxel size differs from Scipion's sampling (recalibrated
    import with linked files): Scipion's value is the one used."""
    if any(abs(v - sampling) > SAMPLING_RTOL * sampling for v in header_voxel):
        return (f"{os.path.basename(path)}: the file header says "
                f"{', '.join(f'{v:.4f}' for v in header_voxel[::-1])} A/px, Scipion's sampling "
                f"is {sampling:.4f} A/px; Scipion's sampling is used for every resolution, "
                f"B-factor and volume.")
    return None


def same_content(path1: str, path2: str) -> bool:
    """True when the two files are the same file or byte for byte equal (stops at the first
    difference, so different maps cost one block read)."""
    return os.path.realpath(path1) == os.path.realpath(path2) or \
        filecmp.cmp(path1, path2, shallow=False)


def producing_protocol(pointer, project):
    """The protocol that produced the object a pointer points to (None when unknown): the
    pointer's protocol (form selections point to a protocol's output) or the object's
    parent in the project (scripts pass the output object itself)."""
    from pyworkflow.protocol import Protocol
    value = pointer.getObjValue()
    if isinstance(value, Protocol):
        return value
    obj = pointer.get()
    parent = obj.getObjParentId() if obj is not None else None
    if not parent or project is None:
        return None
    try:
        return project.getProtocol(parent)
    except Exception:  # noqa: BLE001 - not a protocol's output: nothing to check
        return None
