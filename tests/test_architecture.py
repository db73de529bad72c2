"""The package layout stays as docs/ARCHITECTURE.md draws it: no import cycle, and imports only go down the layers."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("modules", "evals")
# Lower layers never import higher ones (same layer is fine). ARCHITECTURE.md draws the same picture.
LAYERS = [
    ("app", 6),
    ("modules.ui", 6),
    ("modules.studies", 5),
    ("evals.__main__", 4),
    ("evals.runner", 4),
    ("evals.score_hooks", 4),
    ("evals.showcase", 4),
    ("modules.techniques", 3),
    ("modules.inside", 3),
    ("modules.training", 3),
    ("modules.models", 2),
    ("modules.retrieval", 2),
    ("modules.sandbox", 2),
    ("modules.measure", 2),
    ("modules.store", 1),
    ("modules.paths", 1),
    ("modules.redaction", 1),
    ("modules.limits", 1),
    ("modules.space", 1),
    ("modules.network", 1),
    ("modules.inputs", 1),
    ("modules.exports", 1),
    ("modules.progress", 1),
    ("evals.tasks", 1),
    ("evals.metrics", 1),
    ("evals.refusal", 1),
    ("evals.pareto", 1),
    ("evals.stats", 1),
    ("evals.diversity", 1),
    ("evals.references", 1),
    ("evals.comparison", 4),
    ("evals.samples", 4),
    ("evals.report", 4),
]


def module_files() -> dict[str, Path]:
    """'modules.models.spec' -> its file, for every module of the project ('pkg' -> pkg/__init__.py)."""
    files = {"app": ROOT / "app.py"}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules `name` imports anywhere in its file (function-level imports count: they run too)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base]).strip(".")
            for alias in node.names:  # 'from pkg import sub' imports the submodule pkg.sub when there is one
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {module for module in found if module in known and module != name}


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    return {name: imports_of(name, path, set(files)) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path [a, b, ..., a], or None (depth-first search with colours)."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target, [*path, target])):
                return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def layer(module: str) -> int:
    for prefix, rank in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return rank
    raise AssertionError(f"{module} is in no layer: add it to LAYERS here and to docs/ARCHITECTURE.md")


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_project_has_no_import_cycle():
    graph = import_graph()
    assert {"modules.models.quantized", "modules.models.adapters", "modules.studies.quantization"} <= set(graph)
    assert "modules.models.quantized" in graph["modules.models"]  # lazy and package imports are seen
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_imports_only_go_down_the_layers():
    upward = [
        f"{module} (layer {layer(module)}) imports {target} (layer {layer(target)})"
        for module, targets in import_graph().items()
        for target in targets
        if layer(target) > layer(module)
    ]
    assert not upward, "\n".join(upward)


@pytest.mark.parametrize("folder", ["modules/techniques"])
def test_techniques_folder_holds_only_techniques(folder):
    from modules.techniques import TECHNIQUES

    helpers = {"__init__", "output", "answers"}  # the registry, the Output type, shared answer extraction
    names = {path.stem for path in (ROOT / folder).glob("*.py")} - helpers
    assert names == set(TECHNIQUES)
