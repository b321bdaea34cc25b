"""SIG VoIP for Python: SIG's own Rust rules for analysts' BI and migration work.

Validation of Brazilian values, one value at a time or a whole column at once::

    >>> import sig_voip
    >>> sig_voip.cpf_is_valid("529.982.247-25")
    True
    >>> sig_voip.parse_tax_id("12abc34501de35").formatted
    '12.ABC.345/01DE-35'
    >>> sig_voip.validate_tax_ids(["52998224725", "52998224726"])
    [True, False]

Every error SIG reports is a :class:`SigError`: :class:`ValidationError` (``.errors``, a list
of ``{field, code, message}``), :class:`UpstreamError`, :class:`ConfigError` and
:class:`StoreError`, and :class:`AccessDenied` when the authorization policy refuses the actor.

Migration of historical customers from a CSV file (``docs/migration.md``)::

    report = sig_voip.migrate("legacy.csv", "sig.toml", actor="bruno")   # a dry run
    report["summary"]["outcomes"]
"""

from __future__ import annotations

from sig_voip._migration_types import (
    MigrationReport,
    MigrationRow,
    MigrationSummary,
)
from sig_voip._native import (
    AccessDenied,
    Cep,
    ConfigError,
    Email,
    Phone,
    SigError,
    StoreError,
    TaxId,
    UpstreamError,
    ValidationError,
    __version__,
    cep_is_valid,
    cnpj_is_valid,
    cpf_is_valid,
    email_is_valid,
    migrate,
    parse_cep,
    parse_email,
    parse_phone,
    parse_tax_id,
    phone_is_valid,
    tax_id_is_valid,
    validate_ceps,
    validate_emails,
    validate_phones,
    validate_tax_ids,
)
from sig_voip._types import ErrorDetail

__all__ = [
    "AccessDenied",
    "Cep",
    "ConfigError",
    "Email",
    "ErrorDetail",
    "MigrationReport",
    "MigrationRow",
    "MigrationSummary",
    "Phone",
    "SigError",
    "StoreError",
    "TaxId",
    "UpstreamError",
    "ValidationError",
    "__version__",
    "cep_is_valid",
    "cnpj_is_valid",
    "cpf_is_valid",
    "email_is_valid",
    "migrate",
    "parse_cep",
    "parse_email",
    "parse_phone",
    "parse_tax_id",
    "phone_is_valid",
    "tax_id_is_valid",
    "validate_ceps",
    "validate_emails",
    "validate_phones",
    "validate_tax_ids",
]
