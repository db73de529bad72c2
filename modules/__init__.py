"""LLM Technique Lab: models, techniques and the run store behind the dashboard."""
