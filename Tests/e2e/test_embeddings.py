"""POST /v1/embeddings through the openai SDK (llama.cpp, mean-pooled SmolLM2)."""

from __future__ import annotations

import math

import pytest


@pytest.mark.parametrize("encoding_format", [None, "float", "base64"])
def test_two_inputs_two_vectors(client, encoding_format):
    # The SDK asks for base64 when encoding_format is not given and decodes it itself;
    # either answer shape (float list or base64 string) must reach the caller as floats.
    kwargs = {} if encoding_format is None else {"encoding_format": encoding_format}
    response = client.embeddings.create(model="embedder", input=["hello", "world"], **kwargs)
    assert response.object == "list"
    assert isinstance(response.model, str) and response.model
    assert [d.index for d in response.data] == [0, 1]
    a, b = (d.embedding for d in response.data)
    assert all(d.object == "embedding" for d in response.data)
    assert len(a) == len(b) > 0
    assert all(isinstance(x, float) and math.isfinite(x) for x in a + b)
    assert a != b, "different inputs gave identical vectors"
    assert response.usage.prompt_tokens > 0


def test_single_string_input(client):
    response = client.embeddings.create(model="embedder", input="just one", encoding_format="float")
    assert len(response.data) == 1
    assert len(response.data[0].embedding) > 0


def test_same_input_same_vector(client):
    first = client.embeddings.create(model="embedder", input=["repeatable"], encoding_format="float")
    second = client.embeddings.create(model="embedder", input=["repeatable"], encoding_format="float")
    x, y = first.data[0].embedding, second.data[0].embedding
    assert len(x) == len(y)
    assert max(abs(p - q) for p, q in zip(x, y)) < 1e-4
