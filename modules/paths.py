"""Where the lab keeps its files: LAB_HOME (default ~/.cache/llm-technique-lab)."""

import os
from pathlib import Path


def lab_home() -> Path:
    """The lab's data folder, created on first use."""
    home = Path(os.environ.get("LAB_HOME") or Path.home() / ".cache" / "llm-technique-lab")
    home.mkdir(parents=True, exist_ok=True)
    return home
