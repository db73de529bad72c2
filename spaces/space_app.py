"""Hugging Face Space entry point: `spaces` first (ZeroGPU sets CUDA up before anything touches it), the Space's
defaults second (model, storage, sessions, quotas: modules/space.py), then the lab itself."""

import spaces  # noqa: F401  must come before torch, transformers and gradio
from modules import space

space.configure()

import app  # noqa: E402  after configure(): the app reads the Space's defaults when it is imported

demo = app.demo

if __name__ == "__main__":
    app.serve()
