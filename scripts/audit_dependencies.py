"""`make audit`: pip-audit over the locked versions (constraints.txt), with listed exceptions.

pip-audit asks PyPI's vulnerability service (pypi.org JSON API) about each pinned version.
audit-exceptions.txt lists, each with its reason, the vulnerability ids we accept and the
packages whose pinned version the service cannot audit (pip-audit skips those). Fails when:
- a known vulnerability is not listed;
- a package is skipped and not listed (so a new pin cannot go unaudited unnoticed);
- the service cannot be reached, with --strict. Without it (as `make test` runs it) an
  audit that could not run is printed as NOT RUN, never as passed, and does not fail the
  build: a network outage must not decide whether the tests pass.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "constraints.txt"
EXCEPTIONS = REPO / "audit-exceptions.txt"


@dataclass(frozen=True)
class Exceptions:
    """Ids of accepted vulnerabilities and names of packages the service cannot audit."""

    vulnerabilities: frozenset[str]
    unauditable: frozenset[str]


def parse_exceptions(text: str) -> Exceptions:
    """Lines `vuln ID  # reason` or `unauditable NAME  # reason`; a reason is required."""
    kinds: dict[str, set[str]] = {"vuln": set(), "unauditable": set()}
    for number, raw in enumerate(text.splitlines(), start=1):
        line, _, reason = raw.partition("#")
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2 or fields[0] not in kinds or not reason.strip():
            raise ValueError(
                f"{EXCEPTIONS.name} line {number}: expected `vuln ID  # reason` or "
                f"`unauditable NAME  # reason`, got {raw!r}"
            )
        kinds[fields[0]].add(fields[1].lower() if fields[0] == "unauditable" else fields[1])
    return Exceptions(frozenset(kinds["vuln"]), frozenset(kinds["unauditable"]))


def findings(report: dict, exceptions: Exceptions) -> tuple[list[str], list[str], list[str]]:
    """(unlisted vulnerabilities, unlisted skipped packages, listed skipped packages)."""
    vulns, unlisted, listed = [], [], []
    for dep in report["dependencies"]:
        name = dep["name"].lower()
        if "skip_reason" in dep:
            (listed if name in exceptions.unauditable else unlisted).append(
                f"{dep['name']}=={dep.get('version', '?')}: {dep['skip_reason']}"
            )
        vulns += [
            f"{dep['name']}=={dep['version']}: {v['id']} (fixed in {v.get('fix_versions')})"
            for v in dep.get("vulns", [])
            if v["id"] not in exceptions.vulnerabilities
        ]
    return vulns, unlisted, listed


def run_pip_audit(exceptions: Exceptions) -> tuple[dict | None, str]:
    """pip-audit's JSON report (None when it did not produce one) and its stderr."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "audit.json"
        ignored = [
            arg for vid in sorted(exceptions.vulnerabilities) for arg in ("--ignore-vuln", vid)
        ]
        options = ["--no-deps", "--disable-pip", "-s", "pypi", "-f", "json", "-o", str(out)]
        process = subprocess.run(
            [sys.executable, "-m", "pip_audit", "-r", str(LOCK), *options, *ignored],
            capture_output=True,
            text=True,
        )
        report = json.loads(out.read_text()) if out.exists() and out.stat().st_size else None
    return report, process.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--strict", action="store_true", help="fail when the audit cannot run (offline)"
    )
    strict = parser.parse_args(argv).strict
    exceptions = parse_exceptions(EXCEPTIONS.read_text(encoding="utf-8"))
    report, stderr = run_pip_audit(exceptions)
    if report is None:
        last = stderr.strip().splitlines()[-1] if stderr.strip() else "no output"
        verdict = "FAILED" if strict else "NOT RUN"
        print(f"audit {verdict}: pip-audit could not reach its service (pypi.org): {last}")
        return 1 if strict else 0
    vulns, unlisted, listed = findings(report, exceptions)
    audited = len(report["dependencies"]) - len(unlisted) - len(listed)
    print(
        f"audit: {len(report['dependencies'])} locked packages, {audited} audited, "
        f"{len(listed)} not auditable (listed in {EXCEPTIONS.name}), "
        f"{len(exceptions.vulnerabilities)} vulnerability id(s) accepted there"
    )
    if audited == 0:
        print("  WARNING: no locked version could be audited; 0 vulnerabilities means nothing")
    for line in vulns:
        print(f"  vulnerability: {line}")
    for line in unlisted:
        print(f"  not audited and not listed: {line}")
    if vulns or unlisted:
        print(f"audit FAILED: upgrade the pin, or list it in {EXCEPTIONS.name} with a reason")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
