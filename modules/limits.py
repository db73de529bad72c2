"""Limits a deployment sets by environment variable (a public Space shares one machine among strangers).

LAB_MAX_NEW_TOKENS      tokens one generation may make (default 4096: beyond that a CPU run takes hours)
LAB_MAX_TRAIN_STEPS     optimizer steps one fine-tuning method may take (default 10000)
LAB_SESSION_UPLOAD_MB   documents one session may keep in total, all collections (default 200)
LAB_SESSION_DISK_MB     every byte one session keeps on a shared deployment: tasks, documents, indexes, adapters,
                        checkpoints, runs (default 4096: a full fine-tune of the embedded model with its optimizer
                        state is ~1.6 GB)
LAB_QUEUE_SIZE          jobs waiting in the queue before a new one is told to retry later (default 16)
"""

import os


def _number(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    try:
        return float(value) if value else default
    except ValueError:
        raise ValueError(f"{name} must be a number, got '{value[:40]}'.") from None


def max_new_tokens() -> int:
    return int(_number("LAB_MAX_NEW_TOKENS", 4096))


def max_train_steps() -> int:
    return int(_number("LAB_MAX_TRAIN_STEPS", 10_000))


def session_upload_bytes() -> int:
    return int(_number("LAB_SESSION_UPLOAD_MB", 200) * 2**20)


def session_disk_bytes() -> int:
    return int(_number("LAB_SESSION_DISK_MB", 4096) * 2**20)


def queue_size() -> int:
    return int(_number("LAB_QUEUE_SIZE", 16))
