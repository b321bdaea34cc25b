"""The exception hierarchy and the attributes each class carries."""

from __future__ import annotations

import pickle

import pytest

import sig_voip
from sig_voip import (
    AccessDeniedError,
    ConfigError,
    SigError,
    StoreError,
    UpstreamError,
    ValidationError,
)
from sig_voip._native import _raise_sample_error


def test_one_hierarchy_under_sig_error() -> None:
    for cls in (ValidationError, UpstreamError, ConfigError, StoreError, AccessDeniedError):
        assert issubclass(cls, SigError)
        assert cls.__module__ == "sig_voip"
    assert issubclass(SigError, Exception)
    assert SigError.__module__ == "sig_voip"


def test_validation_error_lists_every_problem() -> None:
    with pytest.raises(ValidationError) as info:
        _raise_sample_error("validation")
    errors = info.value.errors
    assert errors == [
        {
            "field": "customer.tax_id",
            "code": "invalid_check_digit",
            "message": "CPF check digits should be 25, got 26",
        },
        {
            "field": "customer.address.cep",
            "code": "wrong_length",
            "message": "a CEP has 8 digits, got 7",
            "source_field": "customer.zip_code",
        },
    ]
    assert str(info.value).startswith("2 problems: customer.tax_id")


def test_upstream_error_attributes() -> None:
    with pytest.raises(SigError) as info:
        _raise_sample_error("upstream")
    err = info.value
    assert isinstance(err, UpstreamError)
    assert err.system == "omie"
    assert err.call == "UpsertCliente"
    assert err.kind == "rate_limited"
    assert err.status == 500
    assert err.code == "SOAP-ENV:Client-6"
    assert err.record == "0190b7d2-5f1e-7000-8000-000000000001"
    assert err.retryable is True
    assert err.maybe_applied is False
    assert err.retry_after == 3.0
    assert "UpsertCliente" in str(err)


def test_config_error_lists_problems_with_their_key() -> None:
    with pytest.raises(ConfigError) as info:
        _raise_sample_error("config")
    assert [(e["field"], e["code"]) for e in info.value.errors] == [
        ("servers[0].capacity_lines", "invalid_format")
    ]


def test_store_error_says_whether_to_retry() -> None:
    with pytest.raises(StoreError) as info:
        _raise_sample_error("store")
    assert info.value.retryable is True
    assert "locked" in str(info.value)


def test_access_denied_says_who_what_and_why() -> None:
    with pytest.raises(AccessDeniedError) as info:
        _raise_sample_error("denied")
    err = info.value
    assert (err.actor, err.action, err.reason) == (
        "user:ana",
        "export_personal_data",
        "action_not_granted",
    )
    assert "user:ana (viewer) may not export_personal_data" in str(err)


def test_unknown_sample_kind_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown error kind"):
        _raise_sample_error("nope")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["validation", "upstream", "config", "store", "denied"])
def test_errors_survive_pickling_with_their_attributes(kind: str) -> None:
    with pytest.raises(SigError) as info:
        _raise_sample_error(kind)  # type: ignore[arg-type]
    original = info.value
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is type(original)
    assert str(copy) == str(original)
    assert vars(copy) == vars(original)


def test_validation_error_is_catchable_as_sig_error() -> None:
    with pytest.raises(SigError):
        sig_voip.parse_cep("x")
