"""CEP, phone and e-mail: predicates, parsing, value objects and batch calls."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import pytest

import sig_voip
from sig_voip import Cep, Email, Phone, ValidationError


@pytest.mark.parametrize("value", ["01001000", "01001-000", " 01.001-000 "])
def test_valid_ceps(value: str) -> None:
    assert sig_voip.cep_is_valid(value)
    cep = sig_voip.parse_cep(value)
    assert (cep.canonical, cep.formatted) == ("01001000", "01001-000")
    assert cep.to_dict() == {"canonical": "01001000", "formatted": "01001-000"}


@pytest.mark.parametrize(
    ("value", "code"),
    [("", "required"), ("0100100", "wrong_length"), ("01001-00x", "invalid_format"),
     ("00000-000", "repeated_digits")],
)
def test_invalid_ceps(value: str, code: str) -> None:
    assert not sig_voip.cep_is_valid(value)
    with pytest.raises(ValidationError) as info:
        sig_voip.parse_cep(value)
    assert [(e["field"], e["code"]) for e in info.value.errors] == [("cep", code)]


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("(11) 98765-4321", "mobile"),
        ("+55 11 98765-4321", "mobile"),
        ("011 98765 4321", "mobile"),
        ("1132654321", "landline"),
    ],
)
def test_valid_phones(value: str, kind: str) -> None:
    assert sig_voip.phone_is_valid(value)
    phone = sig_voip.parse_phone(value)
    assert phone.kind == kind
    assert phone.area_code == 11
    assert phone.canonical.startswith("+5511")
    assert phone.national == phone.canonical[3:]
    d = phone.to_dict()
    assert d["kind"] == kind and d["area_code"] == 11 and d["canonical"] == phone.canonical


def test_phone_forms() -> None:
    phone = Phone("11987654321")
    assert phone.canonical == "+5511987654321"
    assert phone.formatted == "(11) 98765-4321"
    assert phone.national == "11987654321"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "required"),
        ("123", "wrong_length"),
        ("(20) 98765-4321", "unknown_area_code"),
        ("(11) 88765-4321", "invalid_format"),
        ("+1 212 555 0100", "invalid_format"),
    ],
)
def test_invalid_phones(value: str, code: str) -> None:
    assert not sig_voip.phone_is_valid(value)
    with pytest.raises(ValidationError) as info:
        sig_voip.parse_phone(value)
    assert [(e["field"], e["code"]) for e in info.value.errors] == [("phone", code)]


def test_valid_email_folds_the_domain_only() -> None:
    assert sig_voip.email_is_valid("Ana.Silva@Example.COM.br")
    email = sig_voip.parse_email(" Ana.Silva@Example.COM.br ")
    assert email.canonical == "Ana.Silva@example.com.br"
    assert email.formatted == email.canonical
    assert email.domain == "example.com.br"
    assert email.to_dict() == {
        "canonical": "Ana.Silva@example.com.br",
        "formatted": "Ana.Silva@example.com.br",
        "domain": "example.com.br",
    }


@pytest.mark.parametrize(
    ("value", "code"),
    [("", "required"), ("ana", "invalid_format"), ("ana@localhost", "invalid_format"),
     ("ana@exa mple.com", "invalid_format"), ("jos\u00e9@example.com", "invalid_format"),
     ("a" * 250 + "@x.com", "too_long")],
)
def test_invalid_emails(value: str, code: str) -> None:
    assert not sig_voip.email_is_valid(value)
    with pytest.raises(ValidationError) as info:
        sig_voip.parse_email(value)
    assert [(e["field"], e["code"]) for e in info.value.errors] == [("email", code)]


@pytest.mark.parametrize(
    ("batch", "single", "values"),
    [
        (sig_voip.validate_ceps, sig_voip.cep_is_valid, ["01001-000", "0100100", "", "\ud800"]),
        (sig_voip.validate_phones, sig_voip.phone_is_valid,
         ["(11) 98765-4321", "(20) 98765-4321", "1132654321", "\ud800"]),
        (sig_voip.validate_emails, sig_voip.email_is_valid,
         ["ana@example.com.br", "ana@", "b@c.io", "\ud800"]),
    ],
)
def test_batches_match_their_predicates(
    batch: Callable[[list[str]], list[bool]],
    single: Callable[[str], bool],
    values: list[str],
) -> None:
    assert batch(values) == [single(v) for v in values]
    assert batch([]) == []
    with pytest.raises(TypeError):
        batch([1])  # type: ignore[list-item]


def test_value_objects_are_hashable_picklable_and_frozen() -> None:
    for obj in (Cep("01001-000"), Phone("(11) 98765-4321"), Email("o'brien@example.com")):
        assert pickle.loads(pickle.dumps(obj)) == obj
        assert hash(pickle.loads(pickle.dumps(obj))) == hash(obj)
        with pytest.raises(AttributeError):
            obj.canonical = "x"  # type: ignore[misc]
    assert repr(Cep("01001-000")) == "Cep('01001000')"
    assert repr(Phone("(11) 98765-4321")) == "Phone('+5511987654321')"
    assert repr(Email("o'brien@example.com")) == 'Email("o\'brien@example.com")'
    assert str(Cep("01001000")) == "01001-000"
    assert str(Phone("11987654321")) == "(11) 98765-4321"
