"""Scipion Plugin class of resolvecryoem (imported lazily by ``resolvecryoem.Plugin``)."""
import pwem

from . import __version__


class Plugin(pwem.Plugin):
    """Pure-Python plugin: nothing to install beyond the pip package, no paths to declare
    (an entry in _pathVars that does not exist would invalidate every protocol)."""

    # pyworkflow finds the plugin's package (its name, path, version) from the class's
    # module; the class lives in _plugin only so that the core never imports pwem.
    __module__ = "resolvecryoem"

    _url = ""  # no public project page yet: better none than an invented one
    _pathVars = []
    _supportedVersions = [__version__]

    @classmethod
    def _defineVariables(cls):
        pass

    @classmethod
    def defineBinaries(cls, env):
        pass
