"""The import layers of the README's Layout section: a module imports only its own layer or
lower ones, including imports inside functions (read from the source with ast)."""

import ast
from pathlib import Path

# research.<top> -> layer; a higher number may import a lower one, never the reverse.
LAYERS = {
    "errors": 0,
    "cli": 0,
    "textfile": 0,
    "distributed": 0,
    "config": 1,
    "data": 2,
    "models": 3,
    "objectives": 4,
    "eval": 5,
    "io": 5,
    "checkpoints": 5,
    "train": 6,
    "baselines": 7,
    "embed": 7,
    "bert": 7,
    "mteb_encoder": 7,
    "search": 7,
    "embedding_map": 7,
    "query": 7,
    "compare": 7,
}


def research_imports(path: Path) -> set[str]:
    """research.X top-level names that `path` imports, anywhere in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "research" and len(parts) > 1 and parts[1] in LAYERS:
                found.add(parts[1])
    return found


def top_of(path: Path) -> str:
    parts = path.relative_to("research").with_suffix("").parts
    return parts[0]


def test_every_module_has_a_layer():
    tops = {top_of(p) for p in Path("research").rglob("*.py") if p.name != "__init__.py"}
    assert tops <= set(LAYERS), sorted(tops - set(LAYERS))


def test_no_module_imports_a_higher_layer():
    violations = []
    for path in sorted(Path("research").rglob("*.py")):
        if path == Path("research/__init__.py"):
            continue
        mine = LAYERS[top_of(path)]
        for imported in research_imports(path):
            if LAYERS[imported] > mine:
                violations.append(f"{path} (layer {mine}) imports research.{imported}")
    assert not violations, "\n".join(violations)


def test_models_never_import_objectives_or_run_configs():
    for path in Path("research/models").rglob("*.py"):
        assert not research_imports(path) & {"objectives", "config", "train"}, path
