"""map_proposal: DocSales documents mapped and validated by the pipeline's own code."""

from __future__ import annotations

import copy
import json
import math
from collections import OrderedDict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import sig_voip
from sig_voip import ConfigError, ValidationError

from conftest import DEMO_CONFIG, DemoRun


def by_id(docs: list[dict[str, Any]], proposal_id: int) -> dict[str, Any]:
    return copy.deepcopy(next(d for d in docs if d["document"]["id"] == proposal_id))


def test_what_the_pipeline_integrated_maps_to_the_same_domain(
    demo_run: DemoRun, demo_proposals: list[dict[str, Any]]
) -> None:
    done = [r for r in demo_run.report["results"] if r["status"] == "done"]
    assert len(done) >= 10
    for r in done:
        mapped = sig_voip.map_proposal(by_id(demo_proposals, int(r["proposal"])))
        assert mapped["id"] == r["proposal"]
        assert mapped.get("code") == r["code"]
        # The report masks CPFs with sig-core's rule; CNPJs are shown in full.
        tax_id = sig_voip.parse_tax_id(mapped["customer"]["tax_id"])
        if tax_id.kind == "CNPJ":
            assert tax_id.formatted == r["tax_id"]
        else:
            assert tax_id.canonical[3:9] == r["tax_id"][4:7] + r["tax_id"][8:11]
        assert [(o["plan"], o["area_code"]) for o in mapped["orders"]] == [
            (o["plan"], o["area_code"]) for o in r["orders"]
        ]
        for o, ro in zip(mapped["orders"], r["orders"]):
            assert len(o["dids"]) == len(ro["dids"])
            assert o["sip_lines"] == len(ro["lines"])


def test_what_the_pipeline_held_raises_the_same_problems(
    demo_run: DemoRun, demo_proposals: list[dict[str, Any]]
) -> None:
    held = [r for r in demo_run.report["results"] if r["status"] == "held"]
    assert held
    for r in held:
        with pytest.raises(ValidationError) as info:
            sig_voip.map_proposal(by_id(demo_proposals, int(r["proposal"])))
        assert info.value.errors == r["problems"]
        assert all(e.get("source_field") for e in info.value.errors)


def test_the_mapped_shape(demo_proposals: list[dict[str, Any]]) -> None:
    mapped = sig_voip.map_proposal(by_id(demo_proposals, 1001))
    assert mapped["status"] == "approved"
    customer = mapped["customer"]
    assert customer["tax_id"] == "12ABC34501DE35"
    assert customer["phones"] == ["+551134567890"]
    assert customer["emails"][0] == "jose@paoquente.com.br"
    assert customer["address"]["cep"] == "01304001"
    first = mapped["orders"][0]
    assert first["plan"] == "pbx-10"
    assert first["product_code"] == "PBX-10"
    assert (first["quantity"], first["sip_lines"], first["channels"]) == (1, 10, 10)
    assert first["dids"] == ["+551134567000", "+551134567001"]
    assert first["monthly_value"] == "499.90"
    assert (first["start_date"], first["billing_day"]) == ("2026-12-01", 10)
    assert mapped.get("seller") == {
        "name": "Marina Alves",
        "email": "marina.alves@provedor.example",
    }


def test_a_document_as_dict_str_bytes_or_mapping_maps_the_same(
    demo_proposals: list[dict[str, Any]],
) -> None:
    doc = by_id(demo_proposals, 1002)
    text = json.dumps(doc)
    expected = sig_voip.map_proposal(doc)
    assert sig_voip.map_proposal(text) == expected
    assert sig_voip.map_proposal(text.encode()) == expected
    assert sig_voip.map_proposal(OrderedDict(doc)) == expected


def test_python_values_a_dataframe_row_carries(demo_proposals: list[dict[str, Any]]) -> None:
    doc = by_id(demo_proposals, 1002)
    doc["products"][0]["unit_value"] = Decimal("39.90")
    doc["products"][0]["quantity"] = 2.0
    doc["customer"]["phone2"] = math.nan  # pandas' missing value: absent
    mapped = sig_voip.map_proposal(doc)
    assert mapped["orders"][0]["monthly_value"] == "79.80"
    assert mapped["orders"][0]["quantity"] == 2
    assert len(mapped["customer"]["phones"]) == 1


def test_every_problem_at_once_with_domain_and_docsales_fields(
    demo_proposals: list[dict[str, Any]],
) -> None:
    doc = by_id(demo_proposals, 1001)
    doc["customer"]["legal_code"] = "529.982.247-26"
    doc["customer"]["postal_code"] = "0130400"
    doc["products"][1]["code"] = "NOT-IN-CATALOG"
    with pytest.raises(ValidationError) as info:
        sig_voip.map_proposal(doc)
    got = {(e["field"], e["code"], e.get("source_field")) for e in info.value.errors}
    assert ("customer.tax_id", "invalid_check_digit", "customer.legal_code") in got
    assert ("customer.address.cep", "wrong_length", "customer.postal_code") in got
    assert ("orders[1].product", "unknown_plan", "products[1].code") in got
    # Messages never repeat the rejected value (personal data).
    assert all("52998224726" not in e["message"] for e in info.value.errors)


def test_a_document_that_does_not_decode_names_its_json_path() -> None:
    with pytest.raises(ValidationError) as info:
        sig_voip.map_proposal({"document": {"id": 1}, "products": [{"quantity": [1]}]})
    [error] = info.value.errors
    assert error["field"] == "products[0].quantity"
    assert error["source_field"] == "products[0].quantity"
    assert error["code"] == "invalid_format"
    with pytest.raises(ValidationError) as info:
        sig_voip.map_proposal("{not json")
    assert info.value.errors[0]["field"] == "(document)"


def test_values_json_cannot_hold_are_type_errors_naming_the_path() -> None:
    with pytest.raises(TypeError, match=r"products\[0\]\.quantity"):
        sig_voip.map_proposal({"products": [{"quantity": object()}]})
    with pytest.raises(TypeError, match="dict or its JSON text"):
        sig_voip.map_proposal(42)  # type: ignore[arg-type]


CATALOG_ONLY = """
[catalog.fields]
area_code = "custom_ddd"
dids = "custom_dids"

[[catalog.plans]]
id = "linha"
name = "Linha"
products = ["VOIP-LINHA"]
lines_per_unit = 2
channels_per_unit = 4
next_rate_id = 1
omie = { service_code = 1 }
"""


def test_config_as_toml_text_path_or_pathlike(
    tmp_path: Path, demo_proposals: list[dict[str, Any]]
) -> None:
    doc = by_id(demo_proposals, 1002)  # one VOIP-LINHA item
    from_text = sig_voip.map_proposal(doc, CATALOG_ONLY)
    assert from_text["orders"][0]["plan"] == "linha"
    assert from_text["orders"][0]["sip_lines"] == 2
    file = tmp_path / "sig.toml"
    file.write_text(CATALOG_ONLY, encoding="utf-8")
    assert sig_voip.map_proposal(doc, str(file)) == from_text
    assert sig_voip.map_proposal(doc, file) == from_text
    # The demo's own sig.toml names secrets in environment variables that are not set here.
    assert sig_voip.map_proposal(doc, DEMO_CONFIG) == sig_voip.map_proposal(doc)
    with pytest.raises(ValidationError) as info:
        sig_voip.map_proposal(by_id(demo_proposals, 1001), CATALOG_ONLY)
    assert {e["code"] for e in info.value.errors} == {"unknown_plan"}


def test_a_bad_config_is_a_config_error(tmp_path: Path) -> None:
    doc = {"document": {"id": 1}}
    with pytest.raises(ConfigError) as info:
        sig_voip.map_proposal(doc, str(tmp_path / "missing.toml"))
    assert info.value.errors[0]["code"] == "required"
    bad = CATALOG_ONLY.replace("lines_per_unit = 2", 'lines_per_unit = "two"')
    with pytest.raises(ConfigError) as info:
        sig_voip.map_proposal(doc, bad)
    assert info.value.errors[0]["field"] == "catalog.plans[0].lines_per_unit"
    dup = CATALOG_ONLY + "[[catalog.plans]]" + CATALOG_ONLY.split("[[catalog.plans]]")[1]
    with pytest.raises(ConfigError) as info:
        sig_voip.map_proposal(doc, dup)
    assert ("catalog.plans[1].id", "duplicate") in {
        (e["field"], e["code"]) for e in info.value.errors
    }
    with pytest.raises(TypeError, match="config must be"):
        sig_voip.map_proposal(doc, 3)  # type: ignore[arg-type]
