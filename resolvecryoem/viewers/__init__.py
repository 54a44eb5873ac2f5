"""Scipion viewers of resolvecryoem."""
from .viewer_resolve import ResolveCryoEMViewer

__all__ = ["ResolveCryoEMViewer"]
