#!/usr/bin/env python3
"""Reference ISCC Text-Codes from iscc-core, ISCC's reference implementation in Python.

Usage: iscc_texts.py WORKDIR < texts.json > codes.json

In WORKDIR/venv it installs iscc-core at the pinned version (cached); then it reads a JSON
list of texts on stdin and writes the JSON list of their 256-bit Text-Codes
(iscc_core.gen_text_code_v0(text, bits=256)["iscc"]) on stdout. Exit status 3 means the
reference could not be set up here (no venv, no package index).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

PIN = "iscc-core==1.5.0"
UNAVAILABLE = 3


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    if os.environ.get("AIPROV_ISCC_IN_VENV") == "1":
        import iscc_core

        texts = json.load(sys.stdin)
        json.dump([iscc_core.gen_text_code_v0(t, bits=256)["iscc"] for t in texts], sys.stdout)
        return
    work = Path(sys.argv[1]).resolve()
    venv = work / "venv"
    python = venv / "bin" / "python"
    stamp = work / "stamp.txt"
    try:
        if not (stamp.exists() and stamp.read_text() == PIN):
            work.mkdir(parents=True, exist_ok=True)
            if not python.exists():
                subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, stdout=sys.stderr)
            subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", PIN],
                check=True,
                stdout=sys.stderr,
            )
            stamp.write_text(PIN)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"reference unavailable: {e}", file=sys.stderr)
        sys.exit(UNAVAILABLE)
    env = dict(os.environ, AIPROV_ISCC_IN_VENV="1")
    done = subprocess.run([str(python), __file__, str(work)], env=env, stdin=sys.stdin, check=False)
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
