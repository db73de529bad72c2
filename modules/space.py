"""Running as a Hugging Face Space: the model, storage, session and quota defaults, set before the app loads.

Every default is `setdefault`: a variable set in the Space's settings wins. Locally nothing calls this, so the
lab runs as always (offline, embedded model, single user).
"""

import os
from pathlib import Path

CPU_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"  # free CPU hardware (2 vCPU, 16 GB): the embedded model's weights
GPU_MODEL = "HuggingFaceTB/SmolLM2-1.7B-Instruct"  # GPU hardware: large enough for the reasoning tab to separate
PERSISTENT = Path("/data")  # where a Space mounts its persistent storage, when it has some
EPHEMERAL = Path("/tmp/llm-technique-lab")  # lost when the Space restarts
# Per-visitor quotas on a shared Space (modules/limits.py reads them): small enough that one visitor cannot take
# the machine for long, large enough for every tab's defaults.
QUOTAS = {"LAB_MAX_NEW_TOKENS": "512", "LAB_MAX_TRAIN_STEPS": "60", "LAB_SESSION_UPLOAD_MB": "20",
          "LAB_SESSION_DISK_MB": "2048", "LAB_UPLOAD_MAX_MB": "5", "LAB_QUEUE_SIZE": "32",
          "LAB_SESSION_TTL_HOURS": "24"}  # fmt: skip


def on_zero_gpu() -> bool:
    """ZeroGPU hardware: the Space sets SPACES_ZERO_GPU=true (the `spaces` package reads it the same way)."""
    return os.environ.get("SPACES_ZERO_GPU", "").strip().lower() in ("1", "t", "true")


def has_gpu() -> bool:
    """GPU hardware, told without touching CUDA (on ZeroGPU nothing may, before `spaces` has set it up)."""
    return on_zero_gpu() or Path("/dev/nvidia0").exists()


def storage_home() -> Path:
    """LAB_HOME on the persistent volume if one is mounted and writable, else in /tmp."""
    if PERSISTENT.is_dir() and os.access(PERSISTENT, os.W_OK):
        return PERSISTENT / "llm-technique-lab"
    return EPHEMERAL


def configure() -> dict[str, str]:
    """Set the Space's defaults in os.environ; returns every variable it set."""
    defaults = {
        "LAB_MODEL": GPU_MODEL if has_gpu() else CPU_MODEL,
        "LAB_HOME": str(storage_home()),
        "LAB_PER_SESSION": "1",
        "LAB_WARM_MODEL": "1",  # load at start-up (ZeroGPU wants the weights placed before the first GPU call)
        "GRADIO_SERVER_NAME": "0.0.0.0",
        **QUOTAS,
    }
    chosen = {name: value for name, value in defaults.items() if name not in os.environ}
    os.environ.update(chosen)
    return chosen


def deployment_note() -> str | None:
    """What a visitor should know about this deployment's storage and privacy; None locally (single user)."""
    from modules.paths import lab_home, per_session, session_ttl_s

    if not per_session():
        return None
    home = lab_home()
    kept = (
        f"on this Space's persistent volume ({PERSISTENT})"
        if home.is_relative_to(PERSISTENT)
        else "in temporary storage, lost when the Space restarts"
    )
    return (
        f"Your uploads, saved adapters and stored runs belong to this browser tab only (a reload starts a new "
        f"session) and are deleted {session_ttl_s() / 3600:.0f} h after their last use; they are kept {kept}."
        + (
            " On ZeroGPU each batch of generations runs in a short GPU slot: columns fill when a batch ends, Stop "
            "acts between batches, and fine-tuning and quantization are off."
            if on_zero_gpu()
            else ""
        )
    )
