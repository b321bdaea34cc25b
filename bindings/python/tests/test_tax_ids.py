"""CPF/CNPJ: predicates, parsing, the TaxId value object and the batch call."""

from __future__ import annotations

import pickle

import pytest

import sig_voip
from sig_voip import TaxId, ValidationError

VALID_CPFS = ["52998224725", "529.982.247-25", "  529.982.247-25\n", "529 982 247 25"]
VALID_CNPJS = [
    "34665388000161",
    "34.665.388/0001-61",
    "12ABC34501DE35",
    "12.ABC.345/01DE-35",
    "12abc34501de35",
]
INVALID = [
    "",
    "   ",
    "52998224726",  # wrong check digit
    "111.111.111-11",  # repeated digits
    "5299822472",  # 10 digits: no zero-padding
    "529.982.247\u201325",  # a Unicode dash
    "\uff15\uff12\uff19\uff19\uff18\uff12\uff12\uff14\uff17\uff12\uff15",  # fullwidth digits
    "34665388000162",
    "00000000000000",
    "12ABC34501DEAA",  # letters in the check digits
    "not a tax id",
    "\ud800",  # a lone surrogate
]


@pytest.mark.parametrize("value", VALID_CPFS)
def test_cpf_is_valid_accepts_masked_and_unmasked(value: str) -> None:
    assert sig_voip.cpf_is_valid(value)
    assert sig_voip.tax_id_is_valid(value)
    assert not sig_voip.cnpj_is_valid(value)


@pytest.mark.parametrize("value", VALID_CNPJS)
def test_cnpj_is_valid_accepts_numeric_and_alphanumeric(value: str) -> None:
    assert sig_voip.cnpj_is_valid(value)
    assert sig_voip.tax_id_is_valid(value)
    assert not sig_voip.cpf_is_valid(value)


@pytest.mark.parametrize("value", INVALID)
def test_invalid_values_are_rejected_by_every_predicate(value: str) -> None:
    assert not sig_voip.cpf_is_valid(value)
    assert not sig_voip.cnpj_is_valid(value)
    assert not sig_voip.tax_id_is_valid(value)


def test_predicates_take_str_only() -> None:
    with pytest.raises(TypeError):
        sig_voip.cpf_is_valid(52998224725)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sig_voip.cnpj_is_valid(None)  # type: ignore[arg-type]


def test_parse_tax_id_gives_canonical_formatted_and_kind() -> None:
    cpf = sig_voip.parse_tax_id(" 529.982.247-25 ")
    assert (cpf.canonical, cpf.formatted, cpf.kind) == ("52998224725", "529.982.247-25", "CPF")
    cnpj = sig_voip.parse_tax_id("12abc34501de35")
    assert (cnpj.canonical, cnpj.formatted, cnpj.kind) == (
        "12ABC34501DE35",
        "12.ABC.345/01DE-35",
        "CNPJ",
    )
    assert cnpj.to_dict() == {
        "canonical": "12ABC34501DE35",
        "formatted": "12.ABC.345/01DE-35",
        "kind": "CNPJ",
    }


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "required"),
        ("5299822472", "wrong_length"),
        ("529.982.247\u201325", "invalid_format"),
        ("111.111.111-11", "repeated_digits"),
        ("52998224726", "invalid_check_digit"),
        ("12ABC34501DE36", "invalid_check_digit"),
        ("\ud800", "invalid_format"),
    ],
)
def test_parse_tax_id_raises_validation_error_with_the_problem(value: str, code: str) -> None:
    with pytest.raises(ValidationError) as info:
        sig_voip.parse_tax_id(value)
    errors = info.value.errors
    assert len(errors) == 1
    assert errors[0]["field"] == "tax_id"
    assert errors[0]["code"] == code
    assert errors[0]["message"]
    assert "source_field" not in errors[0]
    assert code in str(info.value)


def test_messages_never_contain_the_value() -> None:
    with pytest.raises(ValidationError) as info:
        sig_voip.parse_tax_id("52998224726")
    assert "52998224726" not in str(info.value)
    assert "52998224726" not in info.value.errors[0]["message"]


def test_tax_id_value_object() -> None:
    a = TaxId("529.982.247-25")
    b = sig_voip.parse_tax_id("52998224725")
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a != TaxId("34665388000161")
    assert str(a) == "529.982.247-25"
    assert repr(a) == "TaxId('52998224725')"
    assert pickle.loads(pickle.dumps(a)) == a
    with pytest.raises(AttributeError):
        a.canonical = "x"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        TaxId("x")


def test_validate_tax_ids_matches_the_predicate() -> None:
    values = VALID_CPFS + VALID_CNPJS + INVALID
    assert sig_voip.validate_tax_ids(values) == [sig_voip.tax_id_is_valid(v) for v in values]
    assert sig_voip.validate_tax_ids(values) == [True] * 9 + [False] * len(INVALID)


def test_validate_tax_ids_takes_any_iterable_of_str() -> None:
    assert sig_voip.validate_tax_ids([]) == []
    assert sig_voip.validate_tax_ids(("52998224725", "x")) == [True, False]
    assert sig_voip.validate_tax_ids(v for v in ["52998224725"]) == [True]
    assert sig_voip.validate_tax_ids({"k": 1}.keys()) == [False]


def test_validate_tax_ids_rejects_non_str_items_and_a_single_str() -> None:
    with pytest.raises(TypeError, match=r"item 1 is NoneType, expected str"):
        sig_voip.validate_tax_ids(["52998224725", None])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="iterable of str"):
        sig_voip.validate_tax_ids("52998224725")
    with pytest.raises(TypeError, match="iterable of str"):
        sig_voip.validate_tax_ids(b"52998224725")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sig_voip.validate_tax_ids(42)  # type: ignore[arg-type]
