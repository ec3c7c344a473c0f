"""refq's layers, read from the import statements of its modules (with ``ast``, nothing imported).

From the bottom up: the registry's data (formats, rounding modes, clauses, variants, profiles,
operations) -> numbers -> the tables derived from both -> the spec chapters -> backends ->
conformance -> the applications (command line, demo, model sizes). A module imports only its own
layer and those below it, wherever the import statement stands (module level or inside a
function). The registry's data sits below numbers because numbers computes with the formats the
registry defines (one source of truth); the registry's tables sit above numbers because their
derived columns (largest finite value, encodings) are computed by it.

Nothing uses another module's ``_private`` names: a module marked private (``refq._jit``,
``refq.numbers.integers._arguments``) serves the package it lives in, a private name in a module
serves that module only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Layer of each module, by longest matching prefix; lower numbers are lower layers.
LAYERS: dict[str, int] = {
    # The package itself: refq.errors, and the operation records naming its functions (looked up lazily).
    "refq": 1,
    "refq.errors": 0,
    "refq._jit": 0,
    "refq.registry": 1,
    "refq.numbers": 2,
    "refq.registry.tables": 3,
    "refq.strategies": 4,  # Hypothesis strategies over the chapters' inputs
    "refq.affine": 4, "refq.observers": 4, "refq.requantize": 4, "refq.integer_ops": 4, "refq.qat": 4,
    "refq.elementwise": 4, "refq.gguf": 4, "refq.block": 4,
    "refq.backends": 5,
    "refq.conformance": 6,
    "refq.cli": 7, "refq.__main__": 7, "refq.demo": 7, "refq.sizes": 7,
}
LAYER_NAMES = ("base", "registry", "numbers", "tables", "chapters", "backends", "conformance", "applications")


def module_files() -> dict[str, Path]:
    """Every module of the refq distribution (conformance/ is installed as refq.conformance)."""
    found = {}
    for folder, package in ((ROOT / "refq", "refq"), (ROOT / "conformance", "refq.conformance")):
        for path in sorted(folder.rglob("*.py")):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def layer(module: str) -> int:
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in LAYERS:
            return LAYERS[".".join(parts[:end])]
    raise AssertionError(f"{module}: add its package to LAYERS in tests/test_layers.py")


def imports(module: str, path: Path) -> list[tuple[int, str, tuple[str, ...]]]:
    """(line, imported module, names taken from it) for every import statement of the file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            found.append((node.lineno, target, tuple(alias.name for alias in node.names)))
    return found


def refq_imports(modules: dict[str, Path]) -> list[tuple[str, int, str, tuple[str, ...]]]:
    return [(module, line, target, names) for module, path in modules.items()
            for line, target, names in imports(module, path) if target == "refq" or target.startswith("refq.")]


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def upward_imports(modules: dict[str, Path]) -> list[str]:
    upward = []
    for module, line, target, names in refq_imports(modules):
        # ``from refq.x import y`` may take the module refq.x.y: judge the deepest module named.
        for imported in [f"{target}.{name}" for name in names] if names else [target]:
            if layer(imported) > layer(module):
                upward.append(f"{module}:{line} ({LAYER_NAMES[layer(module)]}) imports {imported} "
                              f"({LAYER_NAMES[layer(imported)]})")
    return upward


def private_uses(modules: dict[str, Path]) -> list[str]:
    offenders = []
    for module, line, target, names in refq_imports(modules):
        # A private module (refq._jit) serves the package holding it.
        parts = target.split(".")
        for depth, part in enumerate(parts):
            owner = ".".join(parts[:depth])
            if is_private(part) and not (module == owner or module.startswith(owner + ".")):
                offenders.append(f"{module}:{line} imports the private module {target}")
        for name in names:
            if is_private(name) and f"{target}.{name}" not in modules and target != module:
                offenders.append(f"{module}:{line} imports {target}.{name}")
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {alias.asname or alias.name: (alias.name if isinstance(node, ast.Import) else
                                                 f"{node.module}.{alias.name}")
                   for node in ast.walk(tree)
                   if isinstance(node, (ast.Import, ast.ImportFrom)) and not getattr(node, "level", 0)
                   for alias in node.names}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and is_private(node.attr) and isinstance(node.value, ast.Name)
                    and aliases.get(node.value.id) in modules and aliases[node.value.id] != module):
                offenders.append(f"{module}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    return offenders


def test_every_module_has_a_layer():
    for module in module_files():
        layer(module)


def test_nothing_imports_upward():
    assert upward_imports(module_files()) == []


def test_spec_packages_never_import_the_demo_or_sizes():
    offenders = [f"{module}:{line} -> {target}" for module, line, target, names in refq_imports(module_files())
                 if layer(module) < LAYERS["refq.cli"]
                 and any(imported.startswith(("refq.demo", "refq.sizes"))
                         for imported in (target, *(f"{target}.{name}" for name in names)))]
    assert offenders == []


def test_no_private_names_used_across_modules():
    assert private_uses(module_files()) == []


@pytest.mark.parametrize("module, source, found", [
    ("refq.numbers.probe", "from refq.cli import main", "refq.numbers.probe:1 (numbers) imports refq.cli.main"),
    ("refq.registry.probe", "def f():\n    from refq.numbers import floats",
     "refq.registry.probe:2 (registry) imports refq.numbers.floats"),
])
def test_upward_check_finds_an_import(tmp_path, module, source, found):
    """The layer check can fail: a module written to import upward is caught, even inside a function."""
    probe = tmp_path / "probe.py"
    probe.write_text(source)
    assert any(found in offence for offence in upward_imports({module: probe}))


@pytest.mark.parametrize("source, found", [
    ("from refq.numbers.floats import _private_helper", "imports refq.numbers.floats._private_helper"),
    ("import refq.strategies as strategies\nstrategies._table(1)", "uses refq.strategies._table"),
    ("from refq.numbers.integers._arguments import x", "imports the private module"),
])
def test_private_check_finds_a_use(tmp_path, source, found):
    """The private-name check can fail: a module written to use another's private name is caught."""
    probe = tmp_path / "probe.py"
    probe.write_text(source)
    modules = {**module_files(), "refq.cli.probe": probe}
    assert any(found in offence for offence in private_uses(modules))
