"""Knowledge bases and RAG end to end: a knowledge base for acme embedded with the real smollm2-embed, Chinese
and English documents, POST /v1/knowledge-bases/{kb}/search in every mode, a RAG model through the official
openai SDK (citations on the answer, and on the first chunk of a stream), tenant isolation, and the usage row's
retrieval_ms."""

from __future__ import annotations

import openai
import pytest
import requests

import usage_db as udb
from conftest import MAX_TOKENS, UPSTREAM_CHAT_MODEL, UPSTREAM_EMBED_MODEL

KB = "policies"

DOCUMENTS = {
    "travel-delay": {
        "title": "航班延误保障",
        "text": "# 航班延误保障\n\n## 赔付标准\n航班比原定起飞时间延误满 4 小时，赔付 300 元；此后每多延误 4 小时，再赔付 300 元，"
        "单次行程最高 1200 元。\n\n## 如何申请\n请向航空公司索取延误证明，连同登机牌和订票记录一起提交。",
    },
    "pet": {
        "title": "宠物医疗险",
        "text": "# 宠物医疗险\n\n年龄在 3 个月至 8 岁之间、已经接种疫苗并植入芯片的猫和狗可以投保。宠物因意外或疾病在合作宠物医院就诊的费用，"
        "按 70% 赔付，每年最高 1 万元。",
    },
    "rental": {
        "title": "Rental car while yours is repaired",
        "text": "# Rental car while yours is repaired\n\nIf your policy includes the Courtesy Car option, we pay for a replacement "
        "vehicle while your car is in an approved body shop after a covered accident. The limit is $40 per day for up to 30 days. "
        "Fuel, tolls and parking fines are your own responsibility.",
    },
    "grace": {
        "title": "Premium due dates and grace period",
        "text": "# Premium due dates and grace period\n\n## Grace period\nIf a premium is not paid by the due date, you have a grace "
        "period of 30 days during which your cover continues.\n\n## Lapse\nIf the premium is still unpaid when the grace period "
        "ends, the policy lapses.",
    },
}

CITATION_FIELDS = {"index", "document_id", "title", "chunk_id", "score", "snippet"}
HIT_FIELDS = {"document_id", "title", "chunk_id", "text", "score"}


@pytest.fixture(scope="module")
def rag(world):
    """acme's knowledge base `policies` (smollm2-embed) with the documents above, and RAG models over it."""
    admin = world.admin
    kb = admin.post(
        "/knowledge-bases",
        {"name": KB, "tenant": "acme", "embedding": {"upstream": "local", "model": UPSTREAM_EMBED_MODEL}},
    )
    assert kb["name"] == KB and kb["embedding"] == {"upstream": "local", "model": UPSTREAM_EMBED_MODEL}, kb
    ids = {}
    for key, doc in DOCUMENTS.items():
        body = admin.post(
            f"/knowledge-bases/{KB}/documents?tenant=acme",
            {"title": doc["title"], "text": doc["text"], "content_type": "text/markdown", "metadata": {"key": key}},
        )
        assert body["id"] and body["chunks"] >= 1, body
        ids[key] = body["id"]
    for name, mode in (("policy-bot", "hybrid"), ("policy-bot-kw", "keyword")):
        admin.post(
            "/models",
            {
                "name": name,
                "tenant": "acme",
                "spec": {
                    "upstream": "local",
                    "model": UPSTREAM_CHAT_MODEL,
                    "knowledge": {"bases": [KB], "top_k": 3, "mode": mode},
                    "params": {"temperature": 0, "max_tokens": MAX_TOKENS},
                },
            },
        )
    return ids


def search(world, tenant: str, body: dict, kb: str = KB) -> requests.Response:
    return requests.post(
        f"{world.gateway.api_url}/knowledge-bases/{kb}/search",
        json=body,
        headers={"Authorization": f"Bearer {world.key(tenant)}"},
        timeout=120,
    )


def hits(world, query: str, mode: str, top_k: int = 3) -> list[dict]:
    r = search(world, "acme", {"query": query, "top_k": top_k, "mode": mode})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body.get("mode") == mode, body
    data = body["data"]
    assert isinstance(data, list) and 1 <= len(data) <= top_k, body
    for h in data:
        assert HIT_FIELDS <= set(h), h
        assert isinstance(h["chunk_id"], int) and isinstance(h["score"], (int, float)) and h["text"], h
    return data


def test_documents_are_listed_and_reuploads_are_no_ops(world, rag):
    listed = world.admin.get(f"/knowledge-bases/{KB}/documents?tenant=acme")
    assert {d["id"] for d in listed["data"]} == set(rag.values()), listed
    again = world.admin.call(
        "POST",
        f"/knowledge-bases/{KB}/documents?tenant=acme",
        expect=(200,),
        json={"title": DOCUMENTS["pet"]["title"], "text": DOCUMENTS["pet"]["text"], "content_type": "text/markdown", "metadata": {"key": "pet"}},
    ).json()
    assert again["id"] == rag["pet"] and again["created"] is False, again
    info = world.admin.get(f"/knowledge-bases/{KB}?tenant=acme")
    assert info["documents"] == len(DOCUMENTS) and info["chunks"] == info["vectors"] >= len(DOCUMENTS), info


@pytest.mark.parametrize(
    "query, expected",
    [
        ("航班延误", "travel-delay"),
        ("猫", "pet"),  # a one-character Chinese query
        ("courtesy car", "rental"),
        ("grace period", "grace"),
    ],
)
def test_keyword_and_hybrid_search_find_the_document(world, rag, query, expected):
    for mode in ("keyword", "hybrid"):
        found = hits(world, query, mode)
        assert found[0]["document_id"] == rag[expected], (mode, found)
        assert found[0]["title"] == DOCUMENTS[expected]["title"]


def test_vector_search_answers_with_embeddings(world, rag):
    # SmolLM2-135M's mean-pooled vectors are weak: this checks the path (the query is embedded, the nearest
    # chunks come back with cosine scores), not that the nearest chunk is the best one.
    found = hits(world, "How many days can I keep the replacement car?", "vector", top_k=10)
    assert {h["document_id"] for h in found} == set(rag.values()), found
    scores = [h["score"] for h in found]
    assert scores == sorted(scores, reverse=True) and all(-1.0 <= s <= 1.0 for s in scores), scores


def test_search_needs_a_tenant_key(world, rag):
    r = requests.post(
        f"{world.gateway.api_url}/knowledge-bases/{KB}/search",
        json={"query": "猫"},
        headers={"Authorization": f"Bearer {world.gateway.admin_key}"},
        timeout=30,
    )
    assert r.status_code in (401, 403), r.text


def test_another_tenant_cannot_search_or_see_the_knowledge_base(world, rag):
    foreign = search(world, "globex", {"query": "猫", "mode": "keyword"})
    missing = search(world, "globex", {"query": "猫", "mode": "keyword"}, kb="no-such-kb")
    assert foreign.status_code == missing.status_code == 404, (foreign.text, missing.text)
    a, b = foreign.json()["error"], missing.json()["error"]
    assert a["code"] == b["code"] and a["type"] == b["type"], (a, b)
    assert a["message"].replace(KB, "<kb>") == b["message"].replace("no-such-kb", "<kb>"), (a, b)
    with pytest.raises(openai.NotFoundError):
        world.client("globex").chat.completions.create(
            model="policy-bot", messages=[{"role": "user", "content": "猫"}], max_tokens=4
        )


def check_citations(citations, rag) -> list[dict]:
    assert isinstance(citations, list) and 1 <= len(citations) <= 3, citations
    assert [c["index"] for c in citations] == list(range(1, len(citations) + 1)), citations
    for c in citations:
        assert CITATION_FIELDS <= set(c), c
        assert c["document_id"] in rag.values(), c
        assert isinstance(c["chunk_id"], int) and isinstance(c["score"], (int, float)), c
        assert isinstance(c["snippet"], str) and c["snippet"], c
    return citations


def test_rag_answer_carries_citations(world, rag):
    client = world.client("acme")
    question = "How much does the courtesy car option pay per day?"
    response = client.chat.completions.create(model="policy-bot-kw", messages=[{"role": "user", "content": question}])
    assert response.choices[0].message.content is not None
    citations = check_citations(response.model_extra["citations"], rag)
    assert response.to_dict()["citations"] == citations
    first = citations[0]
    assert first["document_id"] == rag["rental"] and first["title"] == DOCUMENTS["rental"]["title"], citations
    assert "$40 per day" in DOCUMENTS["rental"]["text"] and first["snippet"].rstrip("…") in DOCUMENTS["rental"]["text"], first

    # The hybrid model (keyword and vector lists fused) cites the same document, though maybe not first.
    hybrid = client.chat.completions.create(model="policy-bot", messages=[{"role": "user", "content": question}])
    assert rag["rental"] in [c["document_id"] for c in check_citations(hybrid.model_extra["citations"], rag)]


def test_rag_stream_carries_citations_on_the_first_chunk(world, rag):
    client = world.client("acme")
    stream = client.chat.completions.create(
        model="policy-bot-kw", stream=True, messages=[{"role": "user", "content": "航班延误 4 小时赔多少？"}]
    )
    chunks = list(stream)
    assert chunks, "empty stream"
    citations = check_citations((chunks[0].model_extra or {}).get("citations"), rag)
    assert citations[0]["document_id"] == rag["travel-delay"], citations
    assert all("citations" not in (c.model_extra or {}) for c in chunks[1:]), "citations after the first chunk"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()


def test_usage_row_records_retrieval_time(world, rag):
    client = world.client("acme")
    raw = client.chat.completions.with_raw_response.create(
        model="policy-bot", messages=[{"role": "user", "content": "猫可以投保吗？"}]
    )
    request_id = raw.headers["x-request-id"]
    assert raw.parse().model_extra["citations"]
    rows, cols = udb.wait_for_usage(
        world.gateway.store,
        lambda rows: any(str(r.get("request_id")) == request_id for r in rows),
        what=f"the usage row of {request_id}",
    )
    assert "retrieval_ms" in cols, cols
    (row,) = [r for r in rows if str(r.get("request_id")) == request_id]
    assert udb.is_model(row, "policy-bot"), row["_raw"]
    retrieval = row["_raw"]["retrieval_ms"]
    assert retrieval is not None and retrieval > 0, row["_raw"]
