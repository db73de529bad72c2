"""Training methods (full, LoRA, prompt tuning, QLoRA), their data, loop and atomic checkpoints."""
