"""Stop inside one forward (or backward) pass: a check before each transformer layer, so a Stop ends a long prefill
or a training step within one layer instead of after the whole pass.

A Stop between decoding steps is a stopping criterion (model.py: StopOnEvent); but one pass over a long prompt
is many seconds on a CPU (a 3-row few-shot batch on SmolLM2-135M: 15-30 s here), and so is a training step.
The check is a forward pre-hook on every layer that raises `Stopped` when the Stop event is set; whoever installed
it catches `Stopped` and returns what it has. Cost: one Event.is_set() per layer call, no allocation.

Generation holds the checks for the prompt's pass only (model.py takes them off after the first step), so decoding
steps run without them, and the compiled fast path (which compiles decode steps, never the prefill) never traces
them; a check that torch.compile did trace is a no-op (checked with LAB_DECODE=compiled on a CPU: same greedy
text, no graph break, no recompile after a cut prefill; CUDA graphs are not checked here).
"""

import threading

import torch
from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer


class Stopped(Exception):
    """Raised inside a pass when Stop was pressed; caught by whoever installed the checks."""


def layers(net: nn.Module) -> list[nn.Module]:
    """The transformer layers (decoder layers, T5 blocks): transformers builds every one on this base class. A model
    without them gets no checks, and Stop acts between passes only."""
    return [module for module in net.modules() if isinstance(module, GradientCheckpointingLayer)]


class LayerChecks:
    """Stop checks before every layer of `net`, installed by install() and taken off by remove() (or on leaving
    a `with` block). backward=True (training) also checks between the layers of the backward pass (a gradient hook
    on each layer's input)."""

    def __init__(self, net: nn.Module, event: threading.Event, backward: bool = False):
        self.net, self.event, self.backward = net, event, backward
        self.handles: list = []

    def _check(self, module, args, kwargs=None):
        # Compiled code never holds the check: traced, this is a no-op (the fast path compiles decode steps only,
        # which run after remove(); this keeps a check from ever entering a compiled graph).
        if torch.compiler.is_compiling():
            return None
        if self.event.is_set():
            raise Stopped
        if self.backward and torch.is_grad_enabled():
            hidden = args[0] if args else (kwargs or {}).get("hidden_states")
            if isinstance(hidden, torch.Tensor) and hidden.requires_grad:
                hidden.register_hook(self._check_gradient)  # runs once this layer's backward is done
        return None

    def _check_gradient(self, gradient: torch.Tensor) -> None:
        if self.event.is_set():
            raise Stopped  # out of loss.backward(): the step is dropped

    def install(self) -> "LayerChecks":
        if not self.handles:
            self.handles = [
                layer.register_forward_pre_hook(self._check, with_kwargs=self.backward) for layer in layers(self.net)
            ]
        return self

    def remove(self) -> None:
        handles, self.handles = self.handles, []
        for handle in handles:
            handle.remove()

    def __enter__(self) -> "LayerChecks":
        return self.install()

    def __exit__(self, *exc) -> None:
        self.remove()
