"""Comparisons that build several model variants and score them through the runner (they never score by themselves)."""
