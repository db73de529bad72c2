"""Evaluation: tasks, metrics, the runner that compares systems, and statistics."""
