"""Validate 1 000 000 CPF/CNPJ strings with sig_voip, python-stdnum and validate-docbr.

Run from the repository root after ``bash scripts/test.sh`` (or any ``maturin develop
--release``) has installed ``sig_voip`` into ``.venv``::

    .venv/bin/python bindings/python/bench/bench_validate.py            # 1 000 000 values
    .venv/bin/python bindings/python/bench/bench_validate.py --n 100000  # quicker

The data set is seeded: half CPFs, half CNPJs (numeric, which every library knows), half of
each masked (``529.982.247-25``), one in ten with a wrong check digit. Every library gets the
same strings in the same shape of call:

- the peers have no batch call, so they run a Python loop over the values calling
  ``cpf.is_valid`` / ``cnpj.is_valid`` (python-stdnum) or ``CPF().validate`` /
  ``CNPJ().validate`` (validate-docbr);
- sig_voip runs the same loop with ``cpf_is_valid`` / ``cnpj_is_valid`` ("per item"), and
  one ``validate_tax_ids(values)`` call over the whole list ("batch").

Speed-up = the peer's time / sig_voip's time. Targets: at least 50x in batch and 20x per
item over both peers. The script also checks that the three libraries agree on every value
(they do on this data set; where their rules differ is documented in sig-core's ``taxid``
module) and exits 1 when they do not.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections.abc import Callable, Sequence

import sig_voip
from stdnum.br import cnpj as stdnum_cnpj
from stdnum.br import cpf as stdnum_cpf
from validate_docbr import CNPJ as DocbrCnpj
from validate_docbr import CPF as DocbrCpf

CPF_W1 = range(10, 1, -1)
CPF_W2 = range(11, 1, -1)
CNPJ_W1 = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
CNPJ_W2 = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)


def _dv(digits: Sequence[int], weights: Sequence[int]) -> int:
    r = sum(d * w for d, w in zip(digits, weights)) % 11
    return 0 if r < 2 else 11 - r


def _make_cpf(rng: random.Random, masked: bool, corrupt: bool) -> str:
    d = [rng.randrange(10) for _ in range(9)]
    d.append(_dv(d, CPF_W1))
    d.append(_dv(d, CPF_W2))
    if corrupt:
        d[10] = (d[10] + 1 + rng.randrange(9)) % 10
    s = "".join(map(str, d))
    return f"{s[:3]}.{s[3:6]}.{s[6:9]}-{s[9:]}" if masked else s


def _make_cnpj(rng: random.Random, masked: bool, corrupt: bool) -> str:
    d = [rng.randrange(10) for _ in range(8)] + [0, 0, 0, rng.randrange(1, 10)]
    d.append(_dv(d, CNPJ_W1))
    d.append(_dv(d, CNPJ_W2))
    if corrupt:
        d[13] = (d[13] + 1 + rng.randrange(9)) % 10
    s = "".join(map(str, d))
    return f"{s[:2]}.{s[2:5]}.{s[5:8]}/{s[8:12]}-{s[12:]}" if masked else s


def make_data(n: int, seed: int) -> tuple[list[str], list[str]]:
    """``n`` values: ``n // 2`` CPFs and the rest CNPJs."""
    rng = random.Random(seed)
    cpfs = [_make_cpf(rng, i % 2 == 0, rng.random() < 0.1) for i in range(n // 2)]
    cnpjs = [_make_cnpj(rng, i % 2 == 0, rng.random() < 0.1) for i in range(n - n // 2)]
    return cpfs, cnpjs


def best_of(repeat: int, run: Callable[[], list[bool]]) -> tuple[float, list[bool]]:
    """The best wall time of ``repeat`` runs (garbage collection off while timing)."""
    best = float("inf")
    result: list[bool] = []
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            result = run()
            elapsed = time.perf_counter() - start
        finally:
            gc.enable()
        best = min(best, elapsed)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="how many values (default 1e6)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=3, help="runs per candidate; best counts")
    args = parser.parse_args()

    cpfs, cnpjs = make_data(args.n, args.seed)
    values = cpfs + cnpjs
    docbr_cpf, docbr_cnpj = DocbrCpf(), DocbrCnpj()
    cpf_is_valid, cnpj_is_valid = sig_voip.cpf_is_valid, sig_voip.cnpj_is_valid
    stdnum_cpf_ok, stdnum_cnpj_ok = stdnum_cpf.is_valid, stdnum_cnpj.is_valid
    docbr_cpf_ok, docbr_cnpj_ok = docbr_cpf.validate, docbr_cnpj.validate

    candidates: dict[str, Callable[[], list[bool]]] = {
        "sig_voip validate_tax_ids (batch)": lambda: sig_voip.validate_tax_ids(values),
        "sig_voip cpf/cnpj_is_valid (per item)": lambda: (
            [cpf_is_valid(s) for s in cpfs] + [cnpj_is_valid(s) for s in cnpjs]
        ),
        "python-stdnum cpf/cnpj.is_valid": lambda: (
            [stdnum_cpf_ok(s) for s in cpfs] + [stdnum_cnpj_ok(s) for s in cnpjs]
        ),
        "validate-docbr CPF/CNPJ().validate": lambda: (
            [docbr_cpf_ok(s) for s in cpfs] + [docbr_cnpj_ok(s) for s in cnpjs]
        ),
    }

    print(f"{len(values):,} values ({len(cpfs):,} CPF, {len(cnpjs):,} CNPJ), seed {args.seed}")
    print(f"python {sys.version.split()[0]}, sig_voip {sig_voip.__version__}, best of {args.repeat}")
    times: dict[str, float] = {}
    results: dict[str, list[bool]] = {}
    for name, run in candidates.items():
        times[name], results[name] = best_of(args.repeat, run)
        per_value_ns = times[name] / len(values) * 1e9
        print(f"  {name:<40} {times[name]:8.3f} s  {per_value_ns:8.1f} ns/value")

    reference = results["sig_voip validate_tax_ids (batch)"]
    valid = sum(reference)
    print(f"valid: {valid:,} of {len(values):,}")
    disagreements = {
        name: sum(a != b for a, b in zip(reference, result))
        for name, result in results.items()
    }
    ok = all(n == 0 for n in disagreements.values())
    if not ok:
        print(f"DISAGREEMENTS with the batch result: {disagreements}")

    batch = times["sig_voip validate_tax_ids (batch)"]
    per_item = times["sig_voip cpf/cnpj_is_valid (per item)"]
    print("speed-up of sig_voip (peer time / sig_voip time; targets: batch >= 50x, per item >= 20x)")
    for peer in ("python-stdnum cpf/cnpj.is_valid", "validate-docbr CPF/CNPJ().validate"):
        b, p = times[peer] / batch, times[peer] / per_item
        flag = "" if b >= 50 and p >= 20 else "   (below target)"
        print(f"  over {peer:<36} batch {b:7.1f}x   per item {p:6.1f}x{flag}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
