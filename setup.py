from pathlib import Path

from setuptools import find_packages, setup

setup(
    name="scipion-em-resolvecryoem",
    version="0.1.0",
    description="Density modification of cryo-EM maps from two half maps (Scipion 3 plugin "
                "with a standalone Python core and command line)",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="GPLv3",
    python_requires=">=3.8",
    packages=find_packages(include=["resolvecryoem", "resolvecryoem.*"]),
    package_data={"resolvecryoem": ["protocols.conf", "data/*"]},
    include_package_data=True,
    install_requires=[
        "scipion-pyworkflow",
        "scipion-em",
        "numpy",
        "scipy",
        "mrcfile",
        "gemmi",
    ],
    extras_require={
        "test": ["pytest"],
        # The peer of the benchmark: cctbx half-map sharpening (optional, large).
        "bench": ["cctbx-base"],
    },
    entry_points={
        "console_scripts": ["resolvecryoem = resolvecryoem.cli:main"],
        "pyworkflow.plugin": ["resolvecryoem = resolvecryoem"],
    },
)
