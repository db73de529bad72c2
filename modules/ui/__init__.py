"""Gradio tab builders: each wires widgets to techniques / the runner and holds no logic of its own."""
