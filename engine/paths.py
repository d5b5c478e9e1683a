"""Every path vidsum uses comes from here.

``VIDSUM_HOME`` overrides all of them (tests set it so they never touch the user's real
directories). Model files themselves live in the Hugging Face cache (``HF_HOME``), not here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "vidsum"
HOME_ENV = "VIDSUM_HOME"


@dataclass(frozen=True)
class Paths:
    data: Path  # library database, assembled default model, local model registry
    config: Path  # settings (default model)
    cache: Path  # partial downloads, scratch files

    @property
    def library_db(self) -> Path:
        return self.data / "library.sqlite3"

    @property
    def models_dir(self) -> Path:
        """Files vidsum itself owns (the assembled offline default model)."""
        return self.data / "models"

    @property
    def settings_file(self) -> Path:
        return self.config / "settings.json"

    @property
    def server_checks_file(self) -> Path:
        """The last check of each inference server (``engine.batch.server_checks``): a
        cache of what a server said, rebuilt by the next check."""
        return self.cache / "server-checks.json"

    @property
    def downloads_dir(self) -> Path:
        return self.cache / "downloads"

    @property
    def worker_logs_dir(self) -> Path:
        """llama.cpp worker logs (``engine.runtime.llamacpp.runner``): removed when the worker
        ends; those of
        killed runs are swept when the next worker starts."""
        return self.cache / "workers"


def get_paths() -> Paths:
    """Resolve paths now (not at import), so a changed ``VIDSUM_HOME`` is honoured."""
    home = os.environ.get(HOME_ENV)
    if home:
        root = Path(home).expanduser().resolve()
        return Paths(data=root / "data", config=root / "config", cache=root / "cache")
    return Paths(
        data=Path(platformdirs.user_data_dir(APP_NAME)),
        config=Path(platformdirs.user_config_dir(APP_NAME)),
        cache=Path(platformdirs.user_cache_dir(APP_NAME)),
    )
