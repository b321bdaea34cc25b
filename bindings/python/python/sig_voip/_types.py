"""Shapes of the plain data ``sig_voip`` returns (for type checkers and documentation)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

from typing_extensions import NotRequired, TypeAlias

__all__ = [
    "Address",
    "Columns",
    "Customer",
    "ErrorDetail",
    "Kpis",
    "MappedProposal",
    "Progress",
    "ProgressCallback",
    "Seller",
    "ServiceOrder",
]

Columns: TypeAlias = dict[str, list[Any]]
"""A column-oriented table: column name → values, one per row, every list the same length.
``pandas.DataFrame(columns)`` and ``polars.DataFrame(columns)`` take it as it is."""


class _ErrorDetailRequired(TypedDict):
    field: str
    code: str
    message: str


class ErrorDetail(_ErrorDetailRequired, total=False):
    """One validation problem: ``{field, code, message}``, plus ``source_field`` when an
    adapter could name the outside field the value came from.

    ``field`` is a domain path (``customer.address.cep``, ``orders[1].dids[0]``; ``tax_id``,
    ``cep``, ``phone`` or ``email`` for a single value), ``code`` a stable machine code
    (``wrong_length``, ``invalid_check_digit``, ...), ``message`` English text that never
    contains the value itself.
    """

    source_field: str


class Address(TypedDict):
    """A validated address (the ``customer.address`` of :class:`MappedProposal`)."""

    street: str
    number: str
    complement: NotRequired[str]
    district: str
    city: str
    uf: str
    cep: str


class Customer(TypedDict):
    """A validated customer: canonical forms (``tax_id`` unmasked upper case, phones in
    E.164, e-mail domains in lower case); the first e-mail and phone are the main ones."""

    tax_id: str
    legal_name: str
    trade_name: NotRequired[str]
    contact_name: NotRequired[str]
    emails: list[str]
    phones: list[str]
    address: Address
    state_registration: NotRequired[str]
    municipal_registration: NotRequired[str]


class ServiceOrder(TypedDict):
    """One service order: a catalog plan in one area code, its lines, channels and DIDs."""

    plan: str
    product_code: NotRequired[str]
    quantity: int
    sip_lines: int
    channels: int
    area_code: int
    dids: list[str]
    monthly_value: str
    start_date: str
    billing_day: int


class Seller(TypedDict):
    """The seller who owns the proposal."""

    name: str
    email: NotRequired[str]


class MappedProposal(TypedDict):
    """What :func:`sig_voip.map_proposal` returns: SIG's validated domain proposal in the
    serde form the store keeps (money as decimal text, dates and times as ISO 8601 text)."""

    id: str
    code: NotRequired[str]
    status: str
    customer: Customer
    orders: list[ServiceOrder]
    seller: NotRequired[Seller]
    created_at: NotRequired[str]
    updated_at: NotRequired[str]


class Kpis(TypedDict):
    """What :meth:`sig_voip.History.kpis` returns: three column-oriented tables.

    - ``summary`` (one row): ``total``, ``done``, ``failed``, ``held``, ``pending``,
      ``cancelled``, ``success_rate``, ``failure_rate`` (of the finished ones),
      ``mean_integration_ms``, ``median_integration_ms``, ``p95_integration_ms`` (received →
      done, time held left out), ``held_integrations``, ``held_ms_total``, ``mean_held_ms``;
    - ``failures_per_step``: ``step``, ``failed_integrations`` (ended failed there),
      ``errors`` (failed attempts in the audit trail, retried ones included);
    - ``volume_per_day``: ``day`` (a ``date`` in America/Sao_Paulo), ``received``, and of
      those ``done``, ``failed``, ``held``, ``pending``, ``cancelled``.
    """

    summary: Columns
    failures_per_step: Columns
    volume_per_day: Columns


class Progress(TypedDict):
    """One progress report of a long call (the ``progress=`` callback convention).

    ``phase`` names what the call is doing (``read``, ``validate``, ``integrate``, ...),
    ``done`` of ``total`` (``None`` when unknown) units are through it, ``ok``/``failed``/
    ``held`` are outcomes so far and ``elapsed_s`` the seconds since the call started.
    """

    phase: str
    done: int
    total: int | None
    ok: int
    failed: int
    held: int
    elapsed_s: float


ProgressCallback: TypeAlias = Callable[[Progress], object]
"""A ``progress=`` callback: called with the GIL held, at most every 200 ms and once at the
end, from the calling thread. Raising in it stops the call, and the exception comes out of
the call unchanged."""
