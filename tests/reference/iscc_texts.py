#!/usr/bin/env python3
"""Reference ISCC Text-Codes from iscc-core, ISCC's reference implementation in Python.

Usage: iscc_texts.py WORKDIR < texts.json > codes.json

In WORKDIR/venv it installs iscc-core at the pinned version (cached); then it reads a JSON
list of texts on stdin and writes the JSON list of their 256-bit Text-Codes
(iscc_core.gen_text_code_v0(text, bits=256)["iscc"]) on stdout. Exit status 3 means the
reference could not be set up here (no venv, no package index).
"""

import json
import sys

from pinned_venv import run_in_venv

PIN = "iscc-core==1.5.0"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    run_in_venv(__file__, sys.argv[1], [PIN])
    import iscc_core

    texts = json.load(sys.stdin)
    json.dump([iscc_core.gen_text_code_v0(t, bits=256)["iscc"] for t in texts], sys.stdout)


if __name__ == "__main__":
    main()
