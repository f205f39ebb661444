"""The run-logging API for scripts and notebooks, after the Azure ML Run / Experiment API.

Code written for ``azureml.core`` runs with only its imports changed::

    from studio.sdk import Workspace, Experiment, Run
"""

from studio import __version__ as VERSION
from studio.sdk.environment import Environment
from studio.sdk.experiment import Experiment
from studio.sdk.run import Run
from studio.sdk.script_run_config import ScriptRunConfig
from studio.sdk.workspace import Workspace

__all__ = ["VERSION", "Environment", "Experiment", "Run", "ScriptRunConfig", "Workspace"]
