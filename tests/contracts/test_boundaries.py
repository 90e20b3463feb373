"""The contracts are the only place that parses a feature-set reference or reads manifest keys.

An AST scan over every package but contracts/, and the benchmarks, scripts and examples that
use them (not the tests): splitting or partitioning a
ref-like value on "@" or "/", a regex on "@v", subscripting or `.get()` on a manifest, or
`json.load` of one, is reported with its file:line. contracts/ itself imports only the
standard library and itself: it is the bottom layer and does no I/O of its own.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Every package but contracts itself (as the import-direction rules list them), and the scripts.
IMPORT_RULES = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
STAGES = (
    *(package for package in IMPORT_RULES["root_packages"] if package != "contracts"),
    "benchmarks",
    "scripts",
    "examples",
)
# An identifier naming a reference: `ref`, `feature_set_ref`, `ref_or_result`, `feature_set`.
REF_LIKE = re.compile(r"(^|_)ref(_|$)|feature_set", re.IGNORECASE)
MANIFEST_LIKE = re.compile(r"manifest", re.IGNORECASE)
SPLITTERS = {"split", "rsplit", "partition", "rpartition"}
REF_SEPARATORS = {"@", "/"}


def _python_files(package: str) -> Iterator[Path]:
    yield from sorted((ROOT / package).rglob("*.py"))


def _text(node: ast.AST) -> str:
    return ast.unparse(node)


def _ref_like(node: ast.AST) -> bool:
    """Whether a name or attribute in the expression names a feature-set reference."""
    identifiers = [
        part.id if isinstance(part, ast.Name) else part.attr
        for part in ast.walk(node)
        if isinstance(part, ast.Name | ast.Attribute)
    ]
    return any(REF_LIKE.search(name) for name in identifiers)


def _violations(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = _text(node.func.value)
            first = node.args[0] if node.args else None
            separator = first.value if isinstance(first, ast.Constant) else None
            if (
                node.func.attr in SPLITTERS
                and separator in REF_SEPARATORS
                and _ref_like(node.func.value)
            ):
                yield node.lineno, f"parses a reference: {_text(node)}"
            if node.func.attr == "get" and MANIFEST_LIKE.search(receiver):
                yield node.lineno, f"reads a manifest key: {_text(node)}"
            if (
                node.func.attr in {"load", "loads"}
                and receiver == "json"
                and any(MANIFEST_LIKE.search(_text(arg)) for arg in node.args)
            ):
                yield node.lineno, f"reads a manifest's JSON: {_text(node)}"
        elif isinstance(node, ast.Subscript) and MANIFEST_LIKE.search(_text(node.value)):
            yield node.lineno, f"reads a manifest key: {_text(node)}"
        elif (
            isinstance(node, ast.Compare)
            and isinstance(node.left, ast.Constant)
            and node.left.value in REF_SEPARATORS
            and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops)
            and any(_ref_like(c) for c in node.comparators)
        ):
            yield node.lineno, f"parses a reference: {_text(node)}"
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and re.search(r"@v[(\[\\]", node.value)
        ):
            yield node.lineno, f"a reference grammar of its own: {node.value!r}"


def _report(found: list[str], what: str) -> str:
    return f"{len(found)} {what}; use contracts/ instead:\n  " + "\n  ".join(found)


def test_no_stage_parses_a_reference_or_reads_manifest_keys_itself():
    found = [
        f"{path.relative_to(ROOT)}:{line}: {message}"
        for package in STAGES
        for path in _python_files(package)
        for line, message in _violations(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not found, _report(found, "place(s) outside contracts/ do a contract's work")


def test_the_scan_finds_what_it_looks_for():
    """The checks above can fail: each kind of violation is found in a snippet."""
    snippet = "\n".join(
        [
            'name, _, version = feature_set_ref.partition("@")',
            'head = ref.split("/")[0]',
            'if "/" in ref: pass',
            'PATTERN = re.compile(r"^(?P<name>\\w+)@v(?P<version>\\d+)$")',
            'cost = manifest["actionable"][0]["cost_per_unit"]',
            'label = result.manifest.get("label", {})',
            "data = json.loads(manifest_path.read_text())",
        ]
    )
    lines = [line for line, _ in _violations(ast.parse(snippet))]
    assert sorted(set(lines)) == [1, 2, 3, 4, 5, 6, 7]
    harmless = "\n".join(
        [
            'name = model_uri.removeprefix("models:/").partition("@")[0]',
            'rows = frame["user_id"]',
            'text = f"{ref}"',
            'host = parts.netloc.rpartition("@")',
        ]
    )
    assert list(_violations(ast.parse(harmless))) == []


def test_contracts_import_only_the_standard_library_and_themselves():
    allowed = set(sys.stdlib_module_names) | {"contracts", "__future__"}
    found = []
    for path in _python_files("contracts"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            found += [
                f"{path.relative_to(ROOT)}:{node.lineno}: imports {name}"
                for name in names
                if name.partition(".")[0] not in allowed
            ]
    assert not found, _report(found, "import(s) in contracts/ beyond the standard library")
