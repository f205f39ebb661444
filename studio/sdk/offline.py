"""The offline run that Run.get_context() returns outside a submitted job: it prints, keeps nothing."""

from __future__ import annotations

import uuid
from typing import Any


class OfflineRun:
    """Stands in for a run when a script runs on its own; log calls print what they would log."""

    def __init__(self) -> None:
        self.id = f"OfflineRun_{uuid.uuid4()}"
        self.display_name = self.id
        self.experiment = None
        self.parent = None

    def _say(self, what: str, name: str, value: Any = "") -> None:
        print(f"Attempted to log {what} {name}:\n{value}")

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """Print the scalar metric."""
        self._say("scalar metric", name, value)

    def log_list(self, name: str, value: Any, description: str = "") -> None:
        """Print the list metric."""
        self._say("list metric", name, value)

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        """Print the row."""
        self._say("row metric", name, kwargs)

    def log_table(self, name: str, value: Any, description: str = "") -> None:
        """Print the table."""
        self._say("table metric", name, value)

    def log_image(self, name: str, path: Any = None, plot: Any = None, description: str = "") -> None:
        """Print the image's name."""
        self._say("image metric", name, path if path is not None else "<plot>")

    def upload_file(self, name: str, path_or_stream: Any, **_: Any) -> None:
        """Print the file's name."""
        print(f"Attempted to upload file {name}")

    def upload_folder(self, name: str, path: Any, **_: Any) -> None:
        """Print the folder's name."""
        print(f"Attempted to upload folder {name}")

    def tag(self, key: str, value: Any = None) -> None:
        """Print the tag."""
        print(f"Attempted to tag {key}={value}")

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Print the tags."""
        print(f"Attempted to set tags {tags}")

    def get_tags(self) -> dict[str, str]:
        """An offline run has no tags."""
        return {}

    def get_metrics(self, name: str | None = None, recursive: bool = False, **_: Any) -> dict[str, Any]:
        """An offline run keeps no metrics."""
        return {}

    def get_file_names(self) -> list[str]:
        """An offline run keeps no files."""
        return []

    def get_status(self) -> str:
        """Always "Running"."""
        return "Running"

    def child_run(self, name: str | None = None, **_: Any) -> OfflineRun:
        """Another offline run."""
        return OfflineRun()

    def flush(self) -> None:
        """Nothing to write."""

    def complete(self, **_: Any) -> None:
        """Nothing to finish."""

    def fail(self, error_details: Any = None, **_: Any) -> None:
        """Nothing to finish."""

    def cancel(self) -> None:
        """Nothing to finish."""

    def __enter__(self) -> OfflineRun:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __repr__(self) -> str:
        return f"OfflineRun(id={self.id!r})"
