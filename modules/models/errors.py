"""The one error a model spec can raise; its message is shown to users as-is."""


class ModelLoadError(RuntimeError):
    """A model spec could not be loaded (unknown id, hub unreachable, missing package)."""
