"""Shared fixtures: a SIG store written by a real pipeline run on the sandboxes.

``sig demo --json --db FILE`` starts the Omie, NextBilling and DocSales sandboxes in-process,
delivers the shipped sample proposals as webhooks, integrates them on an SQLite file and prints
its report. The binary is ``$SIG_BIN`` when set (``scripts/test.sh`` builds it and sets it),
else ``cargo run -p sig-examples --bin sig`` from the repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
DEMO_PROPOSALS = REPO / "examples" / "demo" / "proposals.json"
DEMO_CONFIG = REPO / "examples" / "demo" / "sig.toml"


@dataclass(frozen=True)
class DemoRun:
    """A finished ``sig demo`` run: its store file and its JSON report."""

    db: Path
    report: dict[str, Any]


def _sig_command() -> list[str]:
    binary = os.environ.get("SIG_BIN")
    if binary:
        return [binary]
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.fail("neither SIG_BIN nor cargo is available to run `sig demo`")
    return [cargo, "run", "-q", "-p", "sig-examples", "--bin", "sig", "--"]


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    db = tmp_path_factory.mktemp("sig-demo") / "sig.sqlite"
    cmd = [*_sig_command(), "demo", "--json", "--db", str(db)]
    done = subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, timeout=900, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"`{' '.join(cmd)}` exited {done.returncode}:\n{done.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(done.stdout)
    assert Path(report["store"]) == db
    assert db.is_file()
    return DemoRun(db=db, report=report)


@pytest.fixture(scope="session")
def demo_proposals() -> list[dict[str, Any]]:
    """The sample DocSales proposals the demo integrates."""
    docs = json.loads(DEMO_PROPOSALS.read_text(encoding="utf-8"))
    assert isinstance(docs, list)
    return docs
