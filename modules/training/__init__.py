"""Training methods (full, LoRA, prompt tuning, QLoRA) and objectives (supervised), found in registry.py; their
data, one loop and atomic checkpoints."""
