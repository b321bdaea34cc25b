"""SIG VoIP for Python: SIG's own Rust rules for analysts' BI and migration work.

Validation of Brazilian values, one value at a time or a whole column at once::

    >>> import sig_voip
    >>> sig_voip.cpf_is_valid("529.982.247-25")
    True
    >>> sig_voip.parse_tax_id("12abc34501de35").formatted
    '12.ABC.345/01DE-35'
    >>> sig_voip.validate_tax_ids(["52998224725", "52998224726"])
    [True, False]

A DocSales proposal mapped and validated by the pipeline's own code (the demo catalog unless
``config=`` names a ``sig.toml``, by path or as TOML text)::

    >>> doc = '{"document": {"id": 7}, "products": [{"code": "PBX-10"}]}'
    >>> try:
    ...     sig_voip.map_proposal(doc)
    ... except sig_voip.ValidationError as e:
    ...     print(e.errors[0]["field"], e.errors[0]["code"])
    customer.tax_id required

History for BI from a store, read-only, as columns that pandas and polars take directly
(personal data masked unless ``mask=False`` by a user the policy lets export it)::

    import pandas as pd
    import polars as pl

    with sig_voip.open_history("sig.sqlite") as h:
        integrations = pd.DataFrame(h.integrations(status="done"))   # or pl.DataFrame(...)
        audit = pl.DataFrame(h.audit_events(step="contract"))        # or pd.DataFrame(...)
        per_day = pd.DataFrame(h.kpis()["volume_per_day"])           # also "summary", "failures_per_step"

Every error SIG reports is a :class:`SigError`: :class:`ValidationError` (``.errors``, a list
of ``{field, code, message}``), :class:`UpstreamError`, :class:`ConfigError`,
:class:`StoreError` and :class:`AccessDeniedError`.

Long calls take a ``progress=`` callback (:data:`ProgressCallback`, called with a
:class:`Progress` dict). Migration of historical customers from a CSV file
(``docs/migration.md``)::

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
    AccessDeniedError,
    Cep,
    ConfigError,
    Email,
    History,
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
    map_proposal,
    migrate,
    open_history,
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
from sig_voip._types import (
    Address,
    Columns,
    Customer,
    ErrorDetail,
    Kpis,
    MappedProposal,
    Progress,
    ProgressCallback,
    Seller,
    ServiceOrder,
)

__all__ = [
    "AccessDeniedError",
    "Address",
    "Cep",
    "Columns",
    "ConfigError",
    "Customer",
    "Email",
    "ErrorDetail",
    "History",
    "Kpis",
    "MappedProposal",
    "MigrationReport",
    "MigrationRow",
    "MigrationSummary",
    "Phone",
    "Progress",
    "ProgressCallback",
    "Seller",
    "ServiceOrder",
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
    "map_proposal",
    "migrate",
    "open_history",
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
