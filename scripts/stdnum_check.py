#!/usr/bin/env python3
"""Answer, for tax-id candidates, what python-stdnum thinks of them.

Used by the differential test `tests/tests/differential_stdnum.rs` (one subprocess for the
whole run). Protocol, UTF-8, one JSON value per line:

- first output line: {"stdnum_version": "2.2", "char_map": {"\\u2013": "-", ...}}
  (`char_map` is stdnum.util's table of Unicode look-alikes it replaces with ASCII before
  validating; the test uses it to name the disagreements it explains);
- then, for each input line (a JSON string: the candidate), one output line
  {"cpf": bool, "cnpj": bool, "cpf_compact": str, "cnpj_compact": str}
  with `stdnum.br.cpf.is_valid`, `stdnum.br.cnpj.is_valid` and each module's `compact()`;
  `"error"` carries the repr of any exception other than a ValidationError.

Usage: python3 scripts/stdnum_check.py < candidates.jsonl > answers.jsonl
"""

import json
import sys

import stdnum
from stdnum import util
from stdnum.br import cnpj, cpf


def answer(candidate):
    out = {}
    try:
        out['cpf'] = bool(cpf.is_valid(candidate))
        out['cnpj'] = bool(cnpj.is_valid(candidate))
        out['cpf_compact'] = cpf.compact(candidate)
        out['cnpj_compact'] = cnpj.compact(candidate)
    except Exception as e:  # noqa: B902 -- report, never die mid-stream
        out.setdefault('cpf', False)
        out.setdefault('cnpj', False)
        out['error'] = repr(e)
    return out


def main():
    stdout = sys.stdout
    stdout.write(json.dumps({
        'stdnum_version': stdnum.__version__,
        'char_map': getattr(util, '_char_map', {}),
    }) + '\n')
    for raw in sys.stdin.buffer:
        line = raw.decode('utf-8').rstrip('\n')
        if not line:
            continue
        stdout.write(json.dumps(answer(json.loads(line))) + '\n')
    stdout.flush()


if __name__ == '__main__':
    main()
