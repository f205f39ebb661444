"""CondaDependencies: the packages a job environment needs (conda names are installed with pip here)."""

from __future__ import annotations

from typing import Any


class CondaDependencies:
    """A list of conda and pip packages, as in ``azureml.core.conda_dependencies``."""

    def __init__(self) -> None:
        self._conda: list[str] = []
        self._pip: list[str] = []

    @staticmethod
    def create(
        conda_packages: list[str] | None = None, pip_packages: list[str] | None = None, **_ignored: Any
    ) -> CondaDependencies:
        """A dependency set with the given packages."""
        deps = CondaDependencies()
        for p in conda_packages or []:
            deps.add_conda_package(p)
        for p in pip_packages or []:
            deps.add_pip_package(p)
        return deps

    def add_conda_package(self, package: str) -> None:
        """Add a conda package (a requirement string)."""
        self._conda.append(_requirement(package))

    def add_pip_package(self, package: str) -> None:
        """Add a pip package (a requirement string, a path or a URL of a wheel)."""
        self._pip.append(_requirement(package))

    @property
    def conda_packages(self) -> list[str]:
        """The conda packages, in order."""
        return list(self._conda)

    @property
    def pip_packages(self) -> list[str]:
        """The pip packages, in order."""
        return list(self._pip)

    def serialize_to_string(self) -> str:
        """The dependencies as a conda environment file."""
        lines = ["name: project_environment", "dependencies:"]
        lines += [f"  - {p}" for p in self._conda]
        if self._pip:
            lines += ["  - pip:"] + [f"    - {p}" for p in self._pip]
        return "\n".join(lines) + "\n"


def _requirement(package: object) -> str:
    if not isinstance(package, str) or not package.strip() or "\n" in package:
        raise ValueError(f"invalid package requirement {package!r}")
    return package.strip()
