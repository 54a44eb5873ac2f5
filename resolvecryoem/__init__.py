"""resolvecryoem: density modification of cryo-EM maps from two half maps.

The science lives in :mod:`resolvecryoem.core` (numpy, scipy, mrcfile, gemmi only) and is
driven by the ``resolvecryoem`` command line or by the Scipion 3 protocols of this plugin.

``Plugin`` is resolved lazily (PEP 562) so that ``import resolvecryoem.core`` and the command
line never import pyworkflow or pwem; Scipion's discovery asks for ``resolvecryoem.Plugin``
and gets it.
"""
__version__ = "0.1.0"
# Scipion shows this next to the protocols (path relative to this package).
_logo = "data/resolvecryoem_logo.png"


def __getattr__(name):
    if name == "Plugin":
        from ._plugin import Plugin
        return Plugin
    raise AttributeError(f"module 'resolvecryoem' has no attribute {name!r}")
