"""Runs a reference script inside a venv of its own with pinned packages from PyPI.

The scripts of tests/reference/ call `run_in_venv(__file__, work, pins)` first: outside
the venv it installs the pins in WORK/venv (once; cached by a stamp file, under a lock so
that tests running in parallel install once), runs the script again inside it with the
same arguments and stdin, and exits with its status; inside the venv it returns and the
script does its work. Exit status 3 (UNAVAILABLE) means the venv or the packages could
not be had here: the Rust tests skip on it unless AIPROV_REQUIRE_REFERENCE=1.
"""

import fcntl
import os
import subprocess
import sys
from pathlib import Path

UNAVAILABLE = 3
INSIDE = "AIPROV_REFERENCE_IN_VENV"


def run_in_venv(script, work, pins):
    if os.environ.get(INSIDE) == "1":
        return
    work = Path(work).resolve()
    venv = work / "venv"
    python = venv / "bin" / "python"
    stamp = work / "stamp.txt"
    wanted = " ".join(pins)
    try:
        work.mkdir(parents=True, exist_ok=True)
        with open(work / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (stamp.exists() and stamp.read_text() == wanted):
                if not python.exists():
                    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, stdout=sys.stderr)
                subprocess.run(
                    [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *pins],
                    check=True,
                    stdout=sys.stderr,
                )
                stamp.write_text(wanted)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"reference unavailable: {e}", file=sys.stderr)
        sys.exit(UNAVAILABLE)
    env = dict(os.environ, **{INSIDE: "1"})
    done = subprocess.run([str(python), script, *sys.argv[1:]], env=env, stdin=sys.stdin, check=False)
    sys.exit(done.returncode)
