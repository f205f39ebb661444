"""ScriptRunConfig: what to run, where, and with which environment."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from studio.sdk.compute import ComputeInstance
    from studio.sdk.environment import Environment


class ScriptRunConfig:
    """``ScriptRunConfig(source_directory, script, arguments=None, compute_target=None, environment=None)``."""

    def __init__(
        self,
        source_directory: str | os.PathLike[str],
        script: str,
        arguments: list[Any] | None = None,
        compute_target: str | ComputeInstance | None = None,
        environment: Environment | None = None,
        **_ignored: Any,
    ) -> None:
        if not isinstance(script, str) or not script:
            raise ValueError("script must name a Python file in source_directory")
        if arguments is not None and not isinstance(arguments, (list, tuple)):
            raise TypeError("arguments must be a list")
        self.source_directory = os.fspath(source_directory)
        self.script = script
        self.arguments = list(arguments or [])
        self.compute_target = compute_target
        self.environment = environment

    @property
    def target_name(self) -> str | None:
        """The name of the compute target (None means ``local``)."""
        target = self.compute_target
        if target is None or isinstance(target, str):
            return target
        return str(target.name)

    def __repr__(self) -> str:
        return f"ScriptRunConfig(script={self.script!r}, compute_target={self.target_name!r})"
