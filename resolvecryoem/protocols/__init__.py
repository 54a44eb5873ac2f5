"""Scipion protocols of resolvecryoem."""
from .protocol_compare import ProtResolveCryoEMCompareMaps
from .protocol_resolve import ProtResolveCryoEM

__all__ = ["ProtResolveCryoEM", "ProtResolveCryoEMCompareMaps"]
