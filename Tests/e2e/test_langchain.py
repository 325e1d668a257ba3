"""langchain-openai against the gateway, configured the way application code does it."""

from __future__ import annotations

from langchain_openai import ChatOpenAI, OpenAIEmbeddings

from conftest import MAX_TOKENS


def chat(world, **kwargs) -> ChatOpenAI:
    return ChatOpenAI(
        base_url=world.gateway.api_url,
        api_key=world.key("acme"),
        model="assistant",
        max_tokens=MAX_TOKENS,
        max_retries=0,
        timeout=120,
        **kwargs,
    )


def test_invoke(world):
    message = chat(world).invoke("What is the capital of France?")
    assert isinstance(message.content, str) and message.content.strip()
    assert message.usage_metadata is not None
    assert message.usage_metadata["input_tokens"] > 0
    assert message.usage_metadata["output_tokens"] > 0


def test_stream(world):
    chunks = list(chat(world).stream("Count to five."))
    assert len(chunks) > 1, chunks
    text = "".join(c.content for c in chunks if isinstance(c.content, str))
    assert text.strip()


def test_stream_usage(world):
    # stream_usage=True sends stream_options.include_usage and reads the final usage chunk.
    total = None
    for chunk in chat(world, stream_usage=True).stream("Say hello."):
        total = chunk if total is None else total + chunk
    assert total is not None and total.content.strip()
    assert total.usage_metadata is not None, "no usage chunk reached langchain"
    assert total.usage_metadata["input_tokens"] > 0
    assert total.usage_metadata["output_tokens"] > 0


def test_embeddings(world):
    embeddings = OpenAIEmbeddings(
        base_url=world.gateway.api_url,
        api_key=world.key("acme"),
        model="embedder",
        # Send strings, not tiktoken ids (the default), which only OpenAI's own models accept.
        check_embedding_ctx_length=False,
        max_retries=0,
    )
    vectors = embeddings.embed_documents(["alpha", "beta"])
    assert len(vectors) == 2 and len(vectors[0]) == len(vectors[1]) > 0
    assert len(embeddings.embed_query("gamma")) == len(vectors[0])
