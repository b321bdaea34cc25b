"""``sig_voip.migrate`` against the vendor sandboxes.

The sandboxes (Omie with shortened limit windows, NextBilling, DocSales) and a ``sig.toml``
pointing at them come from the ``sandbox_harness`` binary of the workspace (built by
``cargo test --workspace``, or ``cargo build -p sig-examples --bin sandbox_harness``; the
``SIG_SANDBOX_HARNESS`` variable may name it).
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import sig_voip

REPO = Path(__file__).resolve().parents[3]

NEW_CPF = "529.982.247-25"
IN_OMIE_CNPJ = "11.222.333/0001-81"

HEADER = (
    "tax_id,legal_name,emails,phones,street,number,district,city,uf,cep,"
    "order1_product,order1_quantity,order1_area_code,order1_dids,order1_start_date,"
    "order1_billing_day"
)
ROWS = [
    # line 2: a new customer with one service
    f"{NEW_CPF},Maria Santos,maria@exemplo.com.br,(11) 98765-4321,Rua A,10,Centro,"
    "São Paulo,SP,01001-000,VOIP-LINHA,2,11,11 3456-7000,2021-03-01,10",
    # line 3: a company Omie already has (adopted), no services
    f"{IN_OMIE_CNPJ},Oficina Rio Ltda,contato@oficina.com.br,(21) 2233-4455,Av Brasil,5000,"
    "Penha,Rio de Janeiro,RJ,21012-000,,,,,,",
    # line 4: the first customer again
    f"52998224725,Maria S.,m@exemplo.com.br,(11) 98765-4321,Rua A,10,Centro,"
    "São Paulo,SP,01001-000,,,,,,",
    # line 5: invalid in several fields
    "123.456.789-00,Errado,nao-e-email,(11) 1234,Rua B,1,Centro,São Paulo,XX,0000,"
    "NOPE,1,11,,2021-02-30,40",
]


def harness_binary() -> Path:
    named = os.environ.get("SIG_SANDBOX_HARNESS")
    if named:
        return Path(named)
    for profile in ("debug", "release"):
        candidate = REPO / "target" / profile / "sandbox_harness"
        if candidate.exists():
            return candidate
    pytest.fail(
        "no sandbox_harness binary: run `cargo build -p sig-examples --bin sandbox_harness`"
    )


@pytest.fixture
def sandboxes(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    proc = subprocess.Popen(
        [str(harness_binary()), "--seed-omie", IN_OMIE_CNPJ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    info: dict[str, Any] = json.loads(proc.stdout.readline())
    for key, value in info["env"].items():
        monkeypatch.setenv(key, value)
    try:
        yield info
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
        proc.stdout.close()


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "legacy.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    return path


def omie_creates(info: dict[str, Any]) -> dict[str, dict[str, int]]:
    with urllib.request.urlopen(info["omie"] + "_sandbox/state", timeout=10) as r:
        state: dict[str, Any] = json.load(r)
    counters: dict[str, dict[str, int]] = state["counters"]
    return counters


def by_row(report: sig_voip.MigrationReport) -> dict[int, sig_voip.MigrationRow]:
    return {r["row"]: r for r in report["rows"]}


def test_a_dry_run_reports_every_row_and_writes_nothing(
    sandboxes: dict[str, Any], csv_file: Path
) -> None:
    seen: list[tuple[int, int]] = []
    report = sig_voip.migrate(
        csv_file,
        sandboxes["config"],
        progress=lambda done, total: seen.append((done, total)),
        actor="bruno",
    )
    rows = by_row(report)
    assert rows[2]["outcome"] == "would_create"
    assert rows[3]["outcome"] == "would_adopt"
    assert rows[3]["erp_id"] > 0
    assert rows[4] == {"row": 4, "outcome": "duplicate", "first_row": 2}
    assert rows[5]["outcome"] == "rejected"
    fields = {p["field"] for p in rows[5]["problems"]}
    assert {
        "customer.tax_id",
        "customer.emails[0]",
        "customer.phones[0]",
        "customer.address.uf",
        "customer.address.cep",
        "orders[0].product",
        "orders[0].start_date",
        "orders[0].billing_day",
    } <= fields
    columns = {p.get("source_field") for p in rows[5]["problems"]}
    assert {"tax_id", "order1_billing_day"} <= columns
    summary = report["summary"]
    assert summary["apply"] is False
    assert (summary["rows"], summary["valid"], summary["registered"]) == (4, 3, 0)
    assert seen[0] == (0, 4) and seen[-1] == (4, 4)
    # Only the customer seeded before the run exists in Omie.
    assert sum(omie_creates(sandboxes).get("customer", {}).values()) == 1


def test_apply_integrates_once_and_a_repeat_creates_nothing(
    sandboxes: dict[str, Any], csv_file: Path
) -> None:
    report = sig_voip.migrate(csv_file, sandboxes["config"], apply=True, actor="bruno")
    rows = by_row(report)
    assert rows[2]["outcome"] == "integrated" and rows[2]["adopted"] is False
    assert rows[3]["outcome"] == "integrated" and rows[3]["adopted"] is True
    assert report["summary"]["registered"] == 2
    creates = omie_creates(sandboxes)
    assert creates["customer"] == {rows[2]["customer"]: 1, **_seeded(creates)}
    assert list(creates["contract"].values()) == [1]

    again = sig_voip.migrate(csv_file, sandboxes["config"], apply=True, actor="ana")
    assert [r["outcome"] for r in again["rows"]] == [
        "already_migrated",
        "already_migrated",
        "duplicate",
        "rejected",
    ]
    assert again["summary"]["registered"] == 0
    assert omie_creates(sandboxes) == creates


def _seeded(creates: dict[str, dict[str, int]]) -> dict[str, int]:
    return {k: v for k, v in creates["customer"].items() if k.startswith("legacy-")}


def test_a_viewer_is_refused(sandboxes: dict[str, Any], csv_file: Path) -> None:
    with pytest.raises(sig_voip.AccessDeniedError) as info:
        sig_voip.migrate(csv_file, sandboxes["config"], apply=True, actor="vera")
    assert info.value.action == "migrate"
    assert info.value.field is None
    assert "viewer" in str(info.value)
    assert "contract" not in omie_creates(sandboxes)


def test_an_exception_in_the_callback_stops_the_run(
    sandboxes: dict[str, Any], csv_file: Path
) -> None:
    def stop(done: int, total: int) -> None:
        raise KeyError(f"stop at {done}/{total}")

    with pytest.raises(KeyError, match="stop at 0/4"):
        sig_voip.migrate(csv_file, sandboxes["config"], apply=True, progress=stop, actor="bruno")
    assert "contract" not in omie_creates(sandboxes)


def test_a_bad_header_names_every_column(sandboxes: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("legal_name;fax;order0_product\nA;B;C\n", encoding="utf-8")
    with pytest.raises(sig_voip.ValidationError) as info:
        sig_voip.migrate(path, sandboxes["config"], actor="bruno")
    assert [(e["field"], e["code"]) for e in info.value.errors] == [
        ("header[1]", "unknown_reference"),
        ("header[2]", "unknown_reference"),
        ("header", "required"),
    ]
