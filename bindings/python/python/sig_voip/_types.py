"""Shapes of the plain data ``sig_voip`` returns (for type checkers and documentation)."""

from __future__ import annotations

from typing import TypedDict

__all__ = ["ErrorDetail"]


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
