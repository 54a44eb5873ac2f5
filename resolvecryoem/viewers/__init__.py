"""Scipion viewers of resolvecryoem."""
from .viewer_compare import ResolveCryoEMCompareViewer
from .viewer_resolve import ResolveCryoEMViewer

__all__ = ["ResolveCryoEMViewer", "ResolveCryoEMCompareViewer"]
