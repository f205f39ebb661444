"""Installs the top-level ``resources/`` folder as the package ``studio.resources`` (icons, sample)."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["studio", "studio.*"]), "studio.resources"],
    package_dir={"studio.resources": "resources"},
)
