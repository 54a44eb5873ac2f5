"""Test session set-up: a private, headless Scipion environment (see ../shared/SCIPION.md).

The variables must be set before pyworkflow is first imported, hence here in the root
conftest. Tests of the core do not need them and are not affected.
"""
import os
import sys
import tempfile

_home = tempfile.mkdtemp(prefix="resolvecryoem-scipion-")
_hosts = os.path.join(_home, "hosts.conf")
with open(_hosts, "w") as f:
    f.write("[localhost]\nPARALLEL_COMMAND = mpirun -np %_(JOB_NODES)d %_(COMMAND)s\n")

for key, value in {
    "SCIPION_DOMAIN": "pwem",
    "SCIPION_HOSTS": _hosts,
    "SCIPION_PYTHON": sys.executable,
    "SCIPION_USER_DATA": os.path.join(_home, "data"),
    "SCIPION_HOME": _home,
    "SCIPION_TEST_NOSYNC": "1",
    "SCIPION_NOTIFY": "False",
    "MPLBACKEND": "Agg",
}.items():
    os.environ.setdefault(key, value)
