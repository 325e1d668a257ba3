"""The cluster's model server when no real one is wanted: Tests/e2e/fast_upstream.py (answers at once) plus what a
cluster's tests and demo need from it — streamed answers (server-sent events, usage in a last chunk when asked)
and /v1/embeddings (deterministic 16-dimension vectors made from the words of the input, float or base64), so
that a knowledge base can be created and searched. Its chat answers echo the request's first message, so that a
test can see which prompt version a replica applied. The upstream model `slow` streams ten words 0.2 s apart.

Standard library only: `python3 Tests/e2e_cluster/mock_upstream.py PORT` serves until killed (scripts/cluster.sh)."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

import fast_upstream  # noqa: E402

DIMENSIONS = 16


def embedding(text: str) -> list[float]:
    """A bag of hashed words, normalised: equal texts give equal vectors, shared words make them closer."""
    vector = [0.0] * DIMENSIONS
    for word in text.lower().split() or [""]:
        digest = hashlib.sha256(word.encode()).digest()
        vector[digest[0] % DIMENSIONS] += 1.0 + digest[1] / 255.0
    norm = sum(v * v for v in vector) ** 0.5 or 1.0
    return [v / norm for v in vector]


def answer_text(request: dict) -> str:
    messages = request.get("messages") or []
    first = messages[0].get("content") if messages and isinstance(messages[0], dict) else None
    return f"echo: {first}" if isinstance(first, str) else "ok"


class _Handler(fast_upstream._Handler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        if self.path.endswith("/embeddings"):
            self._embeddings(request)
        elif self.path.endswith("/chat/completions"):
            self._chat(request)
        else:
            self._send(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def _embeddings(self, request: dict) -> None:
        inputs = request.get("input")
        inputs = [inputs] if isinstance(inputs, str) else list(inputs or [])
        data = []
        for index, text in enumerate(inputs):
            vector = embedding(str(text))
            if request.get("encoding_format") == "base64":
                value: object = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            else:
                value = vector
            data.append({"object": "embedding", "index": index, "embedding": value})
        tokens = sum(len(str(t).split()) for t in inputs)
        self._send(200, {"object": "list", "data": data, "model": request.get("model", "fast"),
                         "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    def _chat(self, request: dict) -> None:
        model = request.get("model", "fast")
        text = answer_text(request)
        usage = {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}
        if not request.get("stream"):
            self._send(200, {
                "id": "chatcmpl-mock", "object": "chat.completion", "created": 1_700_000_000, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": usage,
            })
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        base = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model}
        events = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
        events += [{**base, "choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]}
                   for word in text.split()]
        events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (request.get("stream_options") or {}).get("include_usage"):
            events.append({**base, "choices": [], "usage": usage})
        # The upstream model `slow` streams ten words 0.2 s apart (a stream in flight while a replica shuts down).
        if model == "slow":
            words = [{**base, "choices": [{"index": 0, "delta": {"content": f"w{i} "}, "finish_reason": None}]} for i in range(10)]
            events = events[:1] + words + events[-2 if events[-1]["choices"] == [] else -1:]
        for event in events:
            if model == "slow":
                time.sleep(0.2)
            self.wfile.write(b"data: " + json.dumps(event).encode() + b"\n\n")
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class MockUpstream(fast_upstream.FastUpstream):
    """Starts on a free port (or `port`); `base_url` is its API root; `stop()` ends it."""

    def __init__(self, port: int = 0) -> None:
        self.server = fast_upstream._Server(("127.0.0.1", port), _Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()


if __name__ == "__main__":
    MockUpstream(int(sys.argv[1]) if len(sys.argv) > 1 else 0).thread.join()
