"""docs/bring-your-own-data.md, run as written on an export shaped like a real one.

The walkthrough's files are written from its `# file:` YAML blocks and its bash lines are run
in order in an empty folder with no usagecast or MLflow variables set, as a new user would run
them. On top of "every command exits 0", the end-to-end acceptance is checked: no row lost at
ingest, adoption from signup equal to an independent pandas count, a time-ordered test AUC that
is finite and better than chance, today's users scored at the day after the last event, a
policy what-if over those same users, and an explanation from a real `mlflow models serve`.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from real_export import adopted_from_signup, write_export

from serving.local_server import free_port

pytestmark = [pytest.mark.slow, pytest.mark.serve]

WALKTHROUGH = Path(__file__).resolve().parents[2] / "docs" / "bring-your-own-data.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
DOC_PORT = "5001"


@dataclass(frozen=True)
class Block:
    """One fenced block of the walkthrough: a file to write or shell lines to run."""

    language: str
    text: str


def walkthrough_blocks(text: str) -> list[Block]:
    """The YAML blocks that name a file and every bash block, in document order."""
    return [
        Block(language, body)
        for language, body in FENCE.findall(text)
        if language == "bash" or (language == "yaml" and body.startswith("# file: "))
    ]


def shell_lines(body: str) -> list[str]:
    """Commands of a bash block: continuation lines joined, blanks and comments left out."""
    joined = body.replace("\\\n", " ")
    return [
        line.strip() for line in joined.splitlines() if line.strip() and not line.startswith("#")
    ]


@dataclass
class Session:
    """A new user's shell: an empty folder, the venv's bin on PATH, no usagecast variables."""

    folder: Path
    port: int
    outputs: dict[str, str] = field(default_factory=dict)
    servers: list[subprocess.Popen] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        drop = ("USAGECAST_HOME", "MLFLOW_TRACKING_URI", "USAGECAST_SPECS")
        env = {key: value for key, value in os.environ.items() if key not in drop}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
        return env

    def run(self, line: str) -> None:
        command = line.replace(DOC_PORT, str(self.port))
        if command.endswith("&"):
            self.start_server(command.removesuffix("&"))
            return
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=self.folder,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"`{line}` exited {done.returncode}:\n{output}"
        self.outputs[line] = done.stdout

    def start_server(self, command: str) -> None:
        log = (self.folder / "server.log").open("w")
        server = subprocess.Popen(
            ["bash", "-c", command],
            cwd=self.folder,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.servers.append(server)
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (self.folder / "server.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ping", timeout=2):
                    return
            except OSError:
                assert time.monotonic() < deadline, "the served model never answered /ping"
                time.sleep(0.25)

    def output_of(self, prefix: str) -> str:
        (line,) = [line for line in self.outputs if line.startswith(prefix)]
        return self.outputs[line]

    def stop(self) -> None:
        for server in self.servers:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


def test_the_walkthrough_parses_into_files_and_commands() -> None:
    blocks = walkthrough_blocks(WALKTHROUGH.read_text())
    files = [
        b.text.splitlines()[0].removeprefix("# file: ") for b in blocks if b.language == "yaml"
    ]
    commands = [line for b in blocks if b.language == "bash" for line in shell_lines(b.text)]
    assert files == [
        "export/dataset.yaml",
        "specs/trial_adoption/v1.yaml",
        "specs/adopted_ever/v1.yaml",
    ]
    assert commands[0] == "usagecast ingest export/dataset.yaml"
    assert sum(1 for c in commands if c.endswith("&")) == 1
    assert commands[-1].startswith("curl ")


@pytest.fixture
def walked(tmp_path: Path):
    """The export written, then every block of the walkthrough applied in order."""
    folder = tmp_path / "project"
    export = write_export(folder / "export")
    session = Session(folder=folder, port=free_port())
    try:
        for block in walkthrough_blocks(WALKTHROUGH.read_text()):
            if block.language == "yaml":
                target = folder / block.text.splitlines()[0].removeprefix("# file: ")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(block.text)
            else:
                for line in shell_lines(block.text):
                    session.run(line)
        yield export, session
    finally:
        session.stop()


def _counts(output: str, table: str) -> tuple[int, ...]:
    match = re.search(
        rf"{table}: read ([\d,]+)\s+accepted ([\d,]+)\s+quarantined ([\d,]+)", output
    )
    assert match, output
    return tuple(int(group.replace(",", "")) for group in match.groups())


def test_bring_your_own_data_end_to_end(walked, monkeypatch) -> None:
    export, session = walked
    ingest = session.output_of("usagecast ingest")
    assert _counts(ingest, "users") == (export.users_rows, export.users_rows, 0)
    read, accepted, quarantined = _counts(ingest, "events")
    assert read == export.login_rows and accepted + quarantined == read
    assert quarantined == (
        export.blank_login_ids + export.duplicate_login_lines + export.unknown_user_logins
    )

    monkeypatch.chdir(session.folder)
    monkeypatch.setenv("USAGECAST_HOME", str(session.folder / ".usagecast"))
    from features import load_feature_set

    adopted, _ = load_feature_set("adopted_ever@v1")
    assert set(adopted.loc[adopted["label"] == 1, "user_id"]) == adopted_from_signup(export.folder)

    tuned = session.output_of("usagecast tune")
    test_auc = float(re.search(r"^test:\s+roc_auc=([\d.na]+)", tuned, re.MULTILINE).group(1))
    assert math.isfinite(test_auc) and test_auc > 0.6, tuned

    scored = session.output_of("usagecast score")
    assert "2024-07-01" in scored, scored
    scores = pd.read_parquet(session.folder / "scores.parquet")
    assert len(scores) > 0 and scores["probability"].between(0, 1).all()
    assert (pd.to_datetime(scores["cutoff"]) <= pd.Timestamp("2024-07-01")).all()
    first, last = scores["cutoff"].min().date(), scores["cutoff"].max().date()
    assert f"as of its user's own cutoff, {first} .. {last}" in scored, scored

    suggested = session.output_of("usagecast whatif --model")
    assert "user 1222 at cutoff 2024-07-01 (trial_adoption@v1; features as of the row's own" in (
        suggested
    )
    policy = session.output_of("usagecast whatif policy")
    assert (
        f"on {len(scores)} rows of trial_adoption@v1: users at signup + 14 days whose outcome "
        "is still open on 2024-07-01" in policy
    ), policy

    answer = json.loads(session.output_of("curl "))
    (row,) = answer["predictions"]
    assert 0.0 <= row["probability"] <= 1.0
    assert len(row["contributions"]) == 3


def test_an_epoch_last_seen_declared_static_is_refused_as_snapshot_like(tmp_path, capsys) -> None:
    """The walkthrough's export with LastSeen declared static, as a hurried user would: the
    ingest takes it, and a spec reading it is refused, saying how to declare it."""
    from usagecast_cli.main import main

    export = write_export(tmp_path / "export")
    blocks = walkthrough_blocks(WALKTHROUGH.read_text())
    config = next(b.text for b in blocks if b.text.startswith("# file: export/dataset.yaml"))
    static = config.replace("{column: LastSeen, kind: snapshot", "{column: LastSeen, kind: static")
    assert static != config
    (export.folder / "dataset.yaml").write_text(static)
    spec = next(b.text for b in blocks if b.text.startswith("# file: specs/trial_adoption/"))
    spec_file = tmp_path / "specs" / "trial_adoption" / "v1.yaml"
    spec_file.parent.mkdir(parents=True)
    spec_file.write_text(
        spec.replace("names: [country, plan]", "names: [country, plan, last_seen]")
    )
    assert main(["ingest", str(export.folder / "dataset.yaml"), "--no-progress"]) == 0
    capsys.readouterr()
    assert (
        main(["features", "build", "trial_adoption@v1", "--specs", str(spec_file.parents[1])]) == 2
    )
    error = capsys.readouterr().err
    assert "'last_seen' is declared static numeric" in error
    assert "epoch seconds" in error and "kind: snapshot" in error
