#!/usr/bin/env python3
"""C2PA's own Python tools, run on what the service makes: c2pa-python (the C2PA SDK's
binding) validates manifest stores, and c2pa-text (C2PA's reference implementation of
the unstructured-text wrapper) takes text credentials apart.

Usage: c2pa_reference.py WORKDIR < jobs.json > results.json

In WORKDIR/venv it installs the pinned packages (cached); then it reads a JSON list of
jobs on stdin and writes one JSON result per job on stdout. Exit status 3 means the
reference could not be set up here (no venv, no package index).

Jobs:
- {"store": PATH, "asset": PATH, "format": MEDIA_TYPE}: c2pa-python validates the
  detached manifest store at PATH against the asset (Reader(format, stream,
  manifest_data)). Result: {"passed": [codes], "failed": [codes], "explained": [[code,
  explanation] of each failure]}, or {"error": message} when the reader refuses outright.
- {"text": PATH}: the UTF-8 text at PATH, taken apart by c2pa-text. Result:
  {"manifest": hex or null, "clean_text": str, "wrapper": [byte offset, byte length] or
  null, "valid": bool, "issues": [codes], "worst_case_length": int or null}; and, when
  there is a manifest, "c2pa": c2pa-python's validation of it against the whole text (as
  for a store), with its data hash exclusions.
"""

import json
import sys
from pathlib import Path

from pinned_venv import run_in_venv

PINS = ["c2pa-python==0.38.1", "c2pa-text==3.0.0"]


def validate_store(store, asset, fmt):
    import c2pa

    try:
        with open(asset, "rb") as f:
            reader = c2pa.Reader(fmt, f, store)
            results = json.loads(reader.json()).get("validation_results", {}).get("activeManifest", {})
    except Exception as e:  # the reader raises on a store it refuses outright
        return {"error": str(e)}
    return {
        "passed": [s["code"] for s in results.get("success", [])],
        "failed": [s["code"] for s in results.get("failure", [])],
        "explained": [[s["code"], s.get("explanation", "")] for s in results.get("failure", [])],
    }


def take_apart(path, workdir):
    import c2pa_text

    text = Path(path).read_bytes().decode("utf-8")
    manifest, clean = c2pa_text.extract_manifest(text)
    info = c2pa_text.find_wrapper_info(text)
    checked = c2pa_text.validate_text(text)
    out = {
        "manifest": manifest.hex() if manifest is not None else None,
        "clean_text": clean,
        "wrapper": [info[1], info[2]] if info else None,
        "valid": bool(checked.valid),
        "issues": [str(getattr(i.code, "value", i.code)) for i in checked.issues],
        "worst_case_length": c2pa_text.worst_case_wrapper_byte_length(len(manifest)) if manifest else None,
    }
    if manifest is not None:
        store = Path(workdir) / "extracted.c2pa"
        store.write_bytes(manifest)
        # c2pa-python 0.38.1 (C2PA SDK 0.91.3) has no text/plain handler: the whole text
        # is read as an opaque stream with the store beside it. It checks the signature
        # and the data hash over every byte outside the exclusion, but cannot locate the
        # wrapper, so it also reports that the exclusion is not where it finds a manifest.
        out["c2pa"] = validate_store(store.read_bytes(), path, "application/octet-stream")
    return out


def run_jobs(workdir):
    results = []
    for job in json.load(sys.stdin):
        if "text" in job:
            results.append(take_apart(job["text"], workdir))
        else:
            results.append(validate_store(Path(job["store"]).read_bytes(), job["asset"], job["format"]))
    json.dump(results, sys.stdout)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    run_in_venv(__file__, sys.argv[1], PINS)
    run_jobs(Path(sys.argv[1]).resolve())


if __name__ == "__main__":
    main()
