"""One error hierarchy for the whole engine.

Every exception the engine raises on purpose is a ``VidsumError``; its ``str()`` is a complete,
user-facing sentence (the CLI prints it as-is, the TUI shows it in a notification). Anything
else escaping the engine is a bug.
"""

from __future__ import annotations

from pathlib import Path


class VidsumError(Exception):
    """Base class: ``message`` is shown to the user verbatim."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class Cancelled(VidsumError):
    """The user cancelled the operation; nothing partial was kept."""

    exit_code = 130

    def __init__(self, message: str = "Cancelled.") -> None:
        super().__init__(message)


class ConfigError(VidsumError):
    """Bad settings or environment (paths, options)."""


# --- inputs -----------------------------------------------------------------------------------


class TranscriptError(VidsumError):
    """A transcript file could not be read; always names the file and the problem."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


# --- models -----------------------------------------------------------------------------------


class ModelError(VidsumError):
    """A model could not be found, checked, loaded or run."""


class ModelNotFound(ModelError):
    pass


class ModelFileError(ModelError):
    """A model file is missing, corrupt, or not a GGUF llama.cpp can use."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class WorkerCrashed(ModelError):
    """The llama.cpp worker process died (native crash, out of memory, killed)."""


class GenerationError(ModelError):
    """The model produced output that does not validate against the summary schema."""


class DownloadError(VidsumError):
    """A model download failed; the partial file is kept for resume unless stated otherwise."""


# --- library ----------------------------------------------------------------------------------


class LibraryError(VidsumError):
    """The summary library (SQLite) could not be read or written."""


class LibraryBusy(LibraryError):
    """Another process holds the library's write lock for too long."""


class NotInLibrary(LibraryError):
    pass


class ExportError(VidsumError):
    """An export could not be written; names the file and the reason."""


class ExportExists(ExportError):
    """An export would replace a file that is already there (only ever replaced when asked)."""


class LibraryReadOnly(LibraryError):
    """The library can be read (listed, shown, exported) but not written."""
