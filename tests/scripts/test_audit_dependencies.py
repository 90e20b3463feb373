"""The audit's rules: listed exceptions need a reason; unlisted vulnerabilities and unlisted
skipped packages fail it."""

from __future__ import annotations

import pytest

from scripts import audit_dependencies as audit

EXCEPTIONS = audit.parse_exceptions(
    "# comment\nvuln PYSEC-1  # fixed upstream only in 3.x\nunauditable Foo  # not on PyPI\n"
)


def test_exceptions_are_parsed_and_names_folded():
    assert audit.Exceptions(frozenset({"PYSEC-1"}), frozenset({"foo"})) == EXCEPTIONS


@pytest.mark.parametrize("line", ["vuln PYSEC-2", "ignore PYSEC-2  # why", "vuln  # why"])
def test_an_exception_without_a_reason_or_kind_is_refused(line):
    with pytest.raises(ValueError, match="line 1"):
        audit.parse_exceptions(line)


def test_unlisted_vulnerabilities_and_skips_are_reported():
    report = {
        "dependencies": [
            {"name": "bar", "version": "1.0", "vulns": [{"id": "PYSEC-1"}, {"id": "GHSA-x"}]},
            {"name": "foo", "skip_reason": "not found"},
            {"name": "baz", "skip_reason": "not found"},
        ]
    }
    vulns, unlisted, listed = audit.findings(report, EXCEPTIONS)
    assert vulns == ["bar==1.0: GHSA-x (fixed in None)"]
    assert unlisted == ["baz==?: not found"]
    assert listed == ["foo==?: not found"]


def test_every_package_listed_as_unauditable_is_locked():
    exceptions = audit.parse_exceptions(audit.EXCEPTIONS.read_text(encoding="utf-8"))
    locked = {
        line.split("==")[0].lower().replace("_", "-").replace(".", "-")
        for line in audit.LOCK.read_text().splitlines()
        if line.strip()
    }
    listed = {name.replace("_", "-").replace(".", "-") for name in exceptions.unauditable}
    assert listed <= locked, sorted(listed - locked)


@pytest.mark.parametrize(
    ("argv", "code", "verdict"), [([], 0, "NOT RUN"), (["--strict"], 1, "FAILED")]
)
def test_an_unreachable_service_is_reported_not_passed(monkeypatch, capsys, argv, code, verdict):
    monkeypatch.setattr(audit, "run_pip_audit", lambda exceptions: (None, "ConnectionError: x\n"))
    assert audit.main(argv) == code
    out = capsys.readouterr().out
    assert f"audit {verdict}: pip-audit could not reach its service" in out
    assert "ConnectionError: x" in out
