"""Environment: the Python a job runs with (the compute's own, or one with extra packages)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from studio.sdk.conda_dependencies import CondaDependencies


class PythonSection:
    """``env.python``: holds ``conda_dependencies``."""

    def __init__(self) -> None:
        self.conda_dependencies: CondaDependencies | None = None
        self.user_managed_dependencies = False


class Environment:
    """A named job environment, after ``azureml.core.Environment``."""

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError("an environment needs a name")
        self.name = name
        self.python = PythonSection()

    @staticmethod
    def from_pip_requirements(name: str, file_path: str | os.PathLike[str]) -> Environment:
        """An environment with the packages of a requirements file (comments and blank lines skipped)."""
        path = Path(file_path)
        if not path.is_file():
            raise FileNotFoundError(f"requirements file {path} does not exist")
        env = Environment(name)
        packages = []
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                packages.append(line)
        env.python.conda_dependencies = CondaDependencies.create(pip_packages=packages)
        return env

    def spec(self) -> dict[str, Any]:
        """What the compute needs to build this environment."""
        deps = self.python.conda_dependencies
        return {
            "name": self.name,
            "conda_packages": deps.conda_packages if deps else [],
            "pip_packages": deps.pip_packages if deps else [],
        }

    def __repr__(self) -> str:
        return f"Environment(name={self.name!r})"
