"""The Textual terminal UI. Calls the engine API, nothing else."""
