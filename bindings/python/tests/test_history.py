"""History for BI: a store written by a real `sig demo` run, read through sig_voip."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

import sig_voip
from sig_voip import AccessDeniedError, History, StoreError

from conftest import DEMO_CONFIG, DemoRun

SAO_PAULO = dt.timezone(dt.timedelta(hours=-3))


@pytest.fixture
def history(demo_run: DemoRun) -> Iterator[History]:
    with sig_voip.open_history(demo_run.db) as h:
        yield h


def rows(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    names = list(columns)
    lengths = {len(v) for v in columns.values()}
    assert len(lengths) == 1, "every column has one value per row"
    return [dict(zip(names, values)) for values in zip(*columns.values())]


def audit_count(db: Path) -> int:
    with closing(sqlite3.connect(db)) as conn:
        (n,) = conn.execute("SELECT count(*) FROM audit").fetchone()
    assert isinstance(n, int)
    return n


def all_strings(columns: dict[str, list[Any]]) -> list[str]:
    return [v for col in columns.values() for v in col if isinstance(v, str)]


# --- integrations ----------------------------------------------------------------------------


def test_integrations_are_those_the_pipeline_wrote(demo_run: DemoRun, history: History) -> None:
    got = {r["proposal_id"]: r for r in rows(history.integrations())}
    assert len(got) == demo_run.report["integrations"]
    for r in demo_run.report["results"]:
        row = got[r["proposal"]]
        assert row["status"] == r["status"]
        assert row["proposal_code"] == r["code"]
        assert row["integration_ms"] == r["integration_ms"]
        assert row["customer_id"] == r["customer"]
        assert row["actor"] == "webhook:demo"
        assert row["received_at"].tzinfo is not None
        if r["status"] == "done":
            assert row["step"] == "done"
            assert row["finished_at"] >= row["received_at"]
            assert row["problems"] == 0
        else:
            assert row["finished_at"] is None
            assert row["problems"] == len(r["problems"])


def test_personal_data_is_masked_by_default(
    demo_run: DemoRun, demo_proposals: list[dict[str, Any]], history: History
) -> None:
    got = {r["proposal_id"]: r for r in rows(history.integrations())}
    for r in demo_run.report["results"]:
        # The same masking rule as the `sig` binary's report (sig-core's mask module).
        if r["tax_id"] is not None:
            assert got[r["proposal"]]["tax_id"] == r["tax_id"]
    exported = " ".join(all_strings(history.integrations()))
    exported += " ".join(all_strings(history.audit_events()))
    for doc in demo_proposals:
        c = doc["customer"]
        for key in ("contact_email", "financial_email", "phone1", "whatsapp_number"):
            if c.get(key):
                assert c[key] not in exported, key
        if c["legal_code"].count(".") == 2 and "/" not in c["legal_code"]:  # a CPF
            assert c["legal_code"] not in exported
            assert c["legal_code"].replace(".", "").replace("-", "") not in exported
    emails = [e for e in history.integrations()["email"] if e is not None]
    # An address that does not parse (held for correction) is masked whole.
    assert emails and all("***@" in e or e == "***" for e in emails)
    phones = [p for p in history.integrations()["phone"] if p is not None]
    assert phones and all("****-" in p or p == "***" for p in phones)


def test_unmasked_export_needs_a_user_the_policy_allows(demo_run: DemoRun, tmp_path: Path) -> None:
    with sig_voip.open_history(demo_run.db) as h, pytest.raises(ValueError, match="actor"):
        h.integrations(mask=False)
    # No config: nobody has a profile.
    with sig_voip.open_history(demo_run.db, actor="ana") as h:
        with pytest.raises(AccessDeniedError) as info:
            h.integrations(mask=False)
        assert (info.value.actor, info.value.action, info.value.reason) == (
            "user:ana",
            "export_personal_data",
            "no_profile",
        )
    viewer = DEMO_CONFIG.read_text(encoding="utf-8").replace(
        'profile = "admin"', 'profile = "viewer"'
    )
    with sig_voip.open_history(demo_run.db, actor="ana", config=viewer) as h:
        with pytest.raises(AccessDeniedError) as info:
            h.audit_events(mask=False)
        assert info.value.reason == "action_not_granted"
        assert h.integrations()["tax_id"]  # masked reads stay open to everyone
    # ana is an admin in the demo's sig.toml (its secrets are not needed for this).
    with sig_voip.open_history(demo_run.db, actor="ana", config=DEMO_CONFIG) as h:
        assert h.actor == "user:ana"
        plain = {r["proposal_id"]: r for r in rows(h.integrations(mask=False))}
    assert plain["1002"]["tax_id"] == "52998224725"
    assert plain["1002"]["email"] == "ana.souza@gmail.com"
    assert plain["1001"]["phone"] == "(11) 3456-7890"
    # An invalid tax id (held for correction) goes out as written only when unmasked.
    assert plain["1012"]["customer_kind"] is None
    assert plain["1012"]["tax_id"] not in (None, "***")
    with sig_voip.open_history(demo_run.db) as h:
        masked = {r["proposal_id"]: r for r in rows(h.integrations())}
    assert masked["1012"]["tax_id"] == "***"


def test_integration_filters(demo_run: DemoRun, history: History) -> None:
    held = [r["proposal"] for r in demo_run.report["results"] if r["status"] == "held"]
    assert sorted(history.integrations(status="held")["proposal_id"]) == sorted(held)
    assert sorted(history.integrations(step="validate")["proposal_id"]) == sorted(held)
    n = demo_run.report["integrations"]
    assert len(history.integrations(status=["done", "held"])["proposal_id"]) == n
    assert len(history.integrations(actor="webhook")["proposal_id"]) == n
    assert len(history.integrations(actor=["webhook:demo", "system"])["proposal_id"]) == n
    assert history.integrations(actor="user")["proposal_id"] == []
    assert len(history.integrations(company="demo")["proposal_id"]) == n
    assert history.integrations(company="other")["proposal_id"] == []

    received = history.integrations()["received_at"]
    first, last = min(received), max(received)
    assert len(history.integrations(since=first)["proposal_id"]) == n
    assert history.integrations(until=first)["proposal_id"] == []
    assert len(history.integrations(until=last)["proposal_id"]) == n - received.count(last)
    # Naive times and dates are São Paulo wall-clock; text is ISO 8601.
    local_day = first.astimezone(SAO_PAULO).date()
    assert len(history.integrations(since=local_day)["proposal_id"]) == n
    assert history.integrations(since=local_day + dt.timedelta(days=1))["proposal_id"] == []
    naive = first.astimezone(SAO_PAULO).replace(tzinfo=None)
    assert len(history.integrations(since=naive)["proposal_id"]) == n
    assert len(history.integrations(since=first.isoformat())["proposal_id"]) == n

    with pytest.raises(ValueError, match="unknown status"):
        history.integrations(status="finished")
    with pytest.raises(ValueError, match="ISO 8601"):
        history.integrations(since="last tuesday")
    with pytest.raises(TypeError):
        history.integrations(since=3)  # type: ignore[arg-type]


# --- audit events ----------------------------------------------------------------------------


def test_audit_events_and_their_filters(demo_run: DemoRun, history: History) -> None:
    every = rows(history.audit_events())
    assert every == sorted(every, key=lambda e: e["at"])
    ignored = history.audit_events(action="notification.ignored")
    assert len(ignored["event_id"]) == demo_run.report["ignored_notifications"]
    assert set(ignored["outcome"]) == {"skipped"}
    intakes = history.audit_events(action="intake")
    assert len(intakes["event_id"]) == demo_run.report["integrations"]

    contracts = history.audit_events(step="contract")
    assert contracts["event_id"]
    assert all(a.startswith("step.contract:") for a in contracts["action"])
    assert set(contracts["step"]) == {"contract"}
    assert set(contracts["system"]) == {"omie"}
    assert history.audit_events(step="contract:0")["event_id"]
    assert len(history.audit_events(outcome="skipped")["event_id"]) == len(ignored["event_id"])
    assert history.audit_events(actor="system")["event_id"]
    assert history.audit_events(actor="user")["event_id"] == []
    with pytest.raises(ValueError, match="unknown outcome"):
        history.audit_events(outcome="maybe")

    done = next(r for r in demo_run.report["results"] if r["status"] == "done")
    own = rows(history.audit_events(integration=done["integration"]))
    assert own[0]["action"] == "intake"
    assert own[-1]["action"] == "done"
    assert all(e["integration_id"] == done["integration"] for e in own)
    # Step details are JSON text: ids and decisions.
    contract = next(e for e in own if e["action"] == "step.contract:0")
    assert '"erp_id"' in contract["details"]
    assert contract["duration_ms"] is not None


# --- KPIs --------------------------------------------------------------------------------------


def test_kpis_are_the_numbers_the_cli_printed(demo_run: DemoRun, history: History) -> None:
    k = history.kpis()
    [summary] = rows(k["summary"])
    for key, value in demo_run.report["kpis"].items():
        assert summary[key] == value, key
    assert summary["held_integrations"] == demo_run.report["held"]
    if demo_run.report["held"]:
        assert summary["held_ms_total"] > 0

    per_day = rows(k["volume_per_day"])
    assert sum(d["received"] for d in per_day) == summary["total"]
    assert sum(d["done"] for d in per_day) == summary["done"]
    assert all(isinstance(d["day"], dt.date) for d in per_day)

    # Failures per step agree with the audit trail's step errors.
    errors = history.audit_events(outcome="error", action="step.")
    expected: dict[str, int] = {}
    for step in errors["step"]:
        expected[step] = expected.get(step, 0) + 1
    got = dict(zip(k["failures_per_step"]["step"], k["failures_per_step"]["errors"]))
    assert {s: n for s, n in got.items() if n} == expected
    assert sum(k["failures_per_step"]["failed_integrations"]) == summary["failed"]

    # Filters narrow the population the KPIs are computed over.
    first = min(history.integrations()["received_at"])
    assert history.kpis(until=first)["summary"]["total"] == [0]
    assert history.kpis(actor="user")["summary"]["success_rate"] == [None]


# --- pandas and polars ---------------------------------------------------------------------------


def test_pandas_takes_the_columns_directly(demo_run: DemoRun, history: History) -> None:
    df = pd.DataFrame(history.integrations())
    assert len(df) == demo_run.report["integrations"]
    assert list(df.columns)[:3] == ["integration_id", "company", "source_account"]
    assert isinstance(df["received_at"].dtype, pd.DatetimeTZDtype)
    assert (df["status"] == "done").sum() == demo_run.report["done"]
    audit = pd.DataFrame(history.audit_events())
    assert len(audit) > len(df)
    summary = pd.DataFrame(history.kpis()["summary"])
    assert summary.loc[0, "done"] == demo_run.report["done"]
    assert len(pd.DataFrame(history.kpis()["volume_per_day"])) >= 1
    assert len(pd.DataFrame(history.kpis()["failures_per_step"])) >= 0


def test_polars_takes_the_columns_directly(demo_run: DemoRun, history: History) -> None:
    df = pl.DataFrame(history.integrations())
    assert df.height == demo_run.report["integrations"]
    assert df.schema["received_at"] == pl.Datetime(time_zone="UTC")
    assert df.schema["integration_ms"] == pl.Int64
    assert df.filter(pl.col("status") == "done").height == demo_run.report["done"]
    audit = pl.DataFrame(history.audit_events())
    assert audit.height > df.height
    per_day = pl.DataFrame(history.kpis()["volume_per_day"])
    assert per_day.schema["day"] == pl.Date
    assert pl.DataFrame(history.kpis()["summary"]).item(0, "total") == df.height


# --- opening and closing -------------------------------------------------------------------------


def test_the_store_is_read_only_and_closes(demo_run: DemoRun, tmp_path: Path) -> None:
    h = History(demo_run.db)
    assert h.path == demo_run.db
    assert not h.closed
    before = audit_count(demo_run.db)
    h.integrations()
    h.audit_events()
    h.kpis()
    assert audit_count(demo_run.db) == before
    h.close()
    h.close()
    assert h.closed
    assert "closed" in repr(h)
    with pytest.raises(StoreError) as info:
        h.integrations()
    assert info.value.retryable is False

    with pytest.raises(StoreError) as info:
        sig_voip.open_history(tmp_path / "missing.sqlite")
    assert info.value.retryable is False
    not_sig = tmp_path / "other.sqlite"
    with closing(sqlite3.connect(not_sig)) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
    with pytest.raises(StoreError):
        sig_voip.open_history(not_sig)
    text = tmp_path / "text.sqlite"
    text.write_text("not a database", encoding="utf-8")
    with pytest.raises(StoreError):
        sig_voip.open_history(text)
