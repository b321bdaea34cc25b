"""Stubs of the native module ``sig_voip._native`` (Rust, PyO3), checked by ``mypy.stubtest``.

Import from ``sig_voip``, not from here.
"""

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NoReturn, final

from typing_extensions import Self, TypeAlias

from sig_voip._migration_types import MigrationReport
from sig_voip._types import Columns, ErrorDetail, Kpis, MappedProposal

_Config: TypeAlias = str | PathLike[str] | None
_TimeBound: TypeAlias = datetime | date | str | None
_Names: TypeAlias = str | Iterable[str] | None

__all__ = [
    "__version__",
    "SigError",
    "ValidationError",
    "UpstreamError",
    "ConfigError",
    "StoreError",
    "AccessDeniedError",
    "migrate",
    "TaxId",
    "Cep",
    "Phone",
    "Email",
    "cpf_is_valid",
    "cnpj_is_valid",
    "tax_id_is_valid",
    "parse_tax_id",
    "validate_tax_ids",
    "cep_is_valid",
    "parse_cep",
    "validate_ceps",
    "phone_is_valid",
    "parse_phone",
    "validate_phones",
    "email_is_valid",
    "parse_email",
    "validate_emails",
    "map_proposal",
    "History",
    "open_history",
    "_raise_sample_error",
]

__version__: str

# --- exceptions --------------------------------------------------------------------------

class SigError(Exception):
    """Base class of every error SIG reports."""

class ValidationError(SigError):
    """A value or document is invalid; ``errors`` lists every problem."""

    errors: list[ErrorDetail]

class UpstreamError(SigError):
    """A call to an outside system failed."""

    system: Literal["omie", "nextbilling", "docsales", "fiscal"]
    call: str
    kind: Literal[
        "transient",
        "rate_limited",
        "blocked",
        "unauthorized",
        "rejected",
        "not_found",
        "conflict",
        "permanent",
    ]
    status: int | None
    code: str | None
    record: str | None
    retryable: bool
    maybe_applied: bool
    retry_after: float | None

class ConfigError(SigError):
    """A ``sig.toml`` could not be read or is invalid; ``errors`` lists every problem."""

    errors: list[ErrorDetail]

class StoreError(SigError):
    """The SIG store could not be opened or read."""

    retryable: bool

class AccessDeniedError(SigError):
    """SIG's authorization policy refused the action."""

    actor: str
    action: str
    field: str | None
    reason: Literal["no_profile", "action_not_granted", "field_not_granted", "unknown_field"]

def _raise_sample_error(
    kind: Literal["validation", "upstream", "config", "store", "denied"],
) -> NoReturn:
    """Raise a sample of one exception class through the real Rust mapping (for tests)."""

# --- value objects -------------------------------------------------------------------------

@final
class TaxId:
    """A valid CPF or CNPJ."""

    def __new__(cls, value: str) -> Self: ...
    @property
    def canonical(self) -> str: ...
    @property
    def formatted(self) -> str: ...
    @property
    def kind(self) -> Literal["CPF", "CNPJ"]: ...
    def to_dict(self) -> dict[str, str]: ...
    def __reduce__(self) -> tuple[type[Self], tuple[str]]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Cep:
    """A valid CEP."""

    def __new__(cls, value: str) -> Self: ...
    @property
    def canonical(self) -> str: ...
    @property
    def formatted(self) -> str: ...
    def to_dict(self) -> dict[str, str]: ...
    def __reduce__(self) -> tuple[type[Self], tuple[str]]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Phone:
    """A valid Brazilian phone number."""

    def __new__(cls, value: str) -> Self: ...
    @property
    def canonical(self) -> str: ...
    @property
    def formatted(self) -> str: ...
    @property
    def national(self) -> str: ...
    @property
    def area_code(self) -> int: ...
    @property
    def kind(self) -> Literal["landline", "mobile"]: ...
    def to_dict(self) -> dict[str, str | int]: ...
    def __reduce__(self) -> tuple[type[Self], tuple[str]]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Email:
    """A valid e-mail address (domain in lower case)."""

    def __new__(cls, value: str) -> Self: ...
    @property
    def canonical(self) -> str: ...
    @property
    def formatted(self) -> str: ...
    @property
    def domain(self) -> str: ...
    def to_dict(self) -> dict[str, str]: ...
    def __reduce__(self) -> tuple[type[Self], tuple[str]]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __hash__(self) -> int: ...

# --- tax ids -------------------------------------------------------------------------------

def cpf_is_valid(value: str) -> bool: ...
def cnpj_is_valid(value: str) -> bool: ...
def tax_id_is_valid(value: str) -> bool: ...
def parse_tax_id(value: str) -> TaxId: ...
def validate_tax_ids(values: Iterable[str]) -> list[bool]: ...

# --- CEP -----------------------------------------------------------------------------------

def cep_is_valid(value: str) -> bool: ...
def parse_cep(value: str) -> Cep: ...
def validate_ceps(values: Iterable[str]) -> list[bool]: ...

# --- phone ---------------------------------------------------------------------------------

def phone_is_valid(value: str) -> bool: ...
def parse_phone(value: str) -> Phone: ...
def validate_phones(values: Iterable[str]) -> list[bool]: ...

# --- e-mail --------------------------------------------------------------------------------

def email_is_valid(value: str) -> bool: ...
def parse_email(value: str) -> Email: ...
def validate_emails(values: Iterable[str]) -> list[bool]: ...

# --- DocSales proposal mapping -------------------------------------------------------------

def map_proposal(
    doc: Mapping[str, Any] | str | bytes, config: _Config = None
) -> MappedProposal: ...

# --- history for BI ------------------------------------------------------------------------

@final
class History:
    """A SIG store opened read-only: integrations, audit events and KPIs as columns."""

    def __new__(
        cls, path: str | PathLike[str], *, actor: str | None = None, config: _Config = None
    ) -> Self: ...
    @property
    def path(self) -> Path: ...
    @property
    def actor(self) -> str | None: ...
    @property
    def closed(self) -> bool: ...
    def integrations(
        self,
        *,
        since: _TimeBound = None,
        until: _TimeBound = None,
        status: _Names = None,
        step: _Names = None,
        actor: _Names = None,
        company: str | None = None,
        mask: bool = True,
    ) -> Columns: ...
    def audit_events(
        self,
        *,
        since: _TimeBound = None,
        until: _TimeBound = None,
        outcome: _Names = None,
        step: _Names = None,
        actor: _Names = None,
        action: str | None = None,
        integration: str | None = None,
        mask: bool = True,
    ) -> Columns: ...
    def kpis(
        self,
        *,
        since: _TimeBound = None,
        until: _TimeBound = None,
        actor: _Names = None,
        company: str | None = None,
    ) -> Kpis: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
        /,
    ) -> bool: ...

def open_history(
    path: str | PathLike[str], *, actor: str | None = None, config: _Config = None
) -> History: ...

# --- migration -----------------------------------------------------------------------------

def migrate(
    path: str | PathLike[str],
    config: str | PathLike[str],
    apply: bool = False,
    progress: Callable[[int, int], object] | None = None,
    *,
    actor: str,
    company: str | None = None,
    lease: float = 60.0,
) -> MigrationReport:
    """Migrate the customers of a CSV file (``docs/migration.md``): a dry run unless
    ``apply=True``; ``progress(done, total)`` as rows finish."""
