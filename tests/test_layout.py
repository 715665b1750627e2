"""The house rules, checked on the source: no import cycle among kinject's modules (imports inside
functions count), no file over 300 lines, no function over 80 lines, except those named below
with their reason."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_FILE_LINES = 300
MAX_FUNCTION_LINES = 80
LONG_FILES: dict[str, str] = {}  # path -> why it may be longer
LONG_FUNCTIONS: dict[str, str] = {}  # module.function -> why it may be longer (at most three)


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted((SRC / "kinject").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """kinject modules `name` imports anywhere in its file (a package import means its __init__)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in known and t != name}
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle():
    mods = modules()
    graph = {name: imports(name, path, set(mods)) for name, path in mods.items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_files_are_short():
    long = {str(p.relative_to(SRC)): n for p in modules().values()
            if (n := len(p.read_text().splitlines())) > MAX_FILE_LINES and str(p.relative_to(SRC)) not in LONG_FILES}
    assert not long, f"files over {MAX_FILE_LINES} lines: {long}"


def function_lengths():
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield f"{name}.{node.name}", node.end_lineno - node.lineno + 1


def test_functions_are_short():
    assert len(LONG_FUNCTIONS) <= 3
    long = {f: n for f, n in function_lengths() if n > MAX_FUNCTION_LINES and f not in LONG_FUNCTIONS}
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"
    lengths = dict(function_lengths())
    for name in LONG_FUNCTIONS:  # an exception that is no longer needed is removed
        assert lengths.get(name, 0) > MAX_FUNCTION_LINES, f"{name} is short now: drop its exception"
