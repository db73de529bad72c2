"""Whether the Hugging Face hub can be reached: asked before any hub download, so offline fails fast and clearly."""

import os
import socket

HUB_HOST = "huggingface.co"


def hub_reachable(timeout_s: float = 3.0) -> bool:
    """False when offline mode is set or the hub host does not answer; cheap, so no long hang."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout_s):
            return True
    except OSError:
        return False
