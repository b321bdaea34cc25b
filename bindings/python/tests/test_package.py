"""The package surface: explicit exports, typing markers, version."""

from __future__ import annotations

import doctest
from importlib import metadata, resources

import sig_voip
import sig_voip._native as native


def test_every_export_exists_and_nothing_private_is_exported() -> None:
    for name in sig_voip.__all__:
        assert hasattr(sig_voip, name), name
    assert not [n for n in sig_voip.__all__ if n.startswith("_") and n != "__version__"]
    public_native = {n for n in native.__all__ if not n.startswith("_") or n == "__version__"}
    assert public_native <= set(sig_voip.__all__)


def test_typed_package_ships_stubs_and_py_typed() -> None:
    files = resources.files("sig_voip")
    assert files.joinpath("py.typed").is_file()
    assert files.joinpath("_native.pyi").is_file()


def test_version_matches_the_distribution() -> None:
    assert sig_voip.__version__ == metadata.version("sig_voip")


def test_functions_live_in_the_native_module() -> None:
    assert sig_voip.validate_tax_ids.__module__ == "sig_voip._native"
    assert sig_voip.TaxId.__module__ == "sig_voip"


def test_the_package_docstring_examples_run() -> None:
    result = doctest.testmod(sig_voip)
    assert result.attempted > 0
    assert result.failed == 0
