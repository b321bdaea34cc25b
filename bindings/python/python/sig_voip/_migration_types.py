"""Shapes of what :func:`sig_voip.migrate` returns (for type checkers and documentation)."""

from __future__ import annotations

from typing import Literal, TypedDict

from sig_voip._types import ErrorDetail

__all__ = ["MigrationReport", "MigrationRow", "MigrationSummary", "RowOutcomeName"]

RowOutcomeName = Literal[
    "rejected",
    "duplicate",
    "known_in_sig",
    "already_migrated",
    "would_create",
    "would_adopt",
    "check_failed",
    "integrated",
    "held",
    "failed",
    "pending",
    "cancelled",
]


class _MigrationRowRequired(TypedDict):
    row: int
    outcome: RowOutcomeName


class MigrationRow(_MigrationRowRequired, total=False):
    """One row's result: ``row`` is the file line (the header is line 1); the other keys
    depend on the outcome (``docs/migration.md``): ``problems`` for ``rejected`` and
    ``held``, ``first_row`` for ``duplicate``, ``customer``/``integration`` once registered,
    ``erp_id``/``adopted``/``erp_created``/``resumed`` for ``integrated``, ``status`` for
    ``already_migrated``, ``step``/``reason``/``retryable`` for ``failed``."""

    problems: list[ErrorDetail]
    first_row: int
    customer: str
    integration: str
    status: str
    erp_id: int
    adopted: bool
    erp_created: bool
    resumed: bool
    step: str
    reason: str
    retryable: bool


class MigrationSummary(TypedDict):
    """The counts of a run."""

    apply: bool
    rows: int
    valid: int
    outcomes: dict[str, int]
    registered: int
    erp_created: int
    erp_adopted: int
    erp_matched: int
    elapsed_ms: int
    rows_per_second: float


class MigrationReport(TypedDict):
    """Every row (in file order) and the summary."""

    rows: list[MigrationRow]
    summary: MigrationSummary
