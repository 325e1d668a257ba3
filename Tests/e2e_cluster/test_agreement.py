"""Everything else agrees across replicas: a sticky traffic split picks the same version for the same `user`
through every replica and through nginx (a stable hash, not per-process state); a document uploaded through one
replica is searchable through the others within KNOWLEDGE_S; the usage report through any replica shows the
traffic of all of them; the audit log is one log; the demo's curl lines (scripts/cluster.sh) work through nginx."""

from __future__ import annotations

import requests

from conftest import KNOWLEDGE_S, WARM_S, Cluster, chat, new_tenant, wait_until

USERS = [f"end-user-{i}" for i in range(30)]


def _versions(cluster: Cluster, key: str, model: str, n: int | None) -> dict[str, str]:
    client = cluster.client(key, n)
    return {u: chat(client, model, user=u)[1].get("x-trellis-model-version", "?") for u in USERS}


def test_the_same_user_gets_the_same_version_through_every_replica(cluster, mock_model):
    tenant = new_tenant(cluster, "sticky")
    admin = cluster.admin(1)
    model = f"split-{tenant.name}"
    admin.post("/models", {"name": model, "spec": {"upstream": "mock", "model": "fast", "params": {"max_tokens": 1}}})
    admin.post(f"/models/{model}/versions", {"spec": {"upstream": "mock", "model": "fast", "params": {"max_tokens": 2}}})
    admin.call("PUT", f"/models/{model}/traffic", json={"1": 50, "2": 50}, expect=(200,))

    on_first = _versions(cluster, tenant.key, model, 1)
    assert set(on_first.values()) == {"1", "2"}, f"a 50/50 split over {len(USERS)} users served only {set(on_first.values())}"
    for n in range(2, len(cluster.replicas) + 1):
        wait_until(
            f"replica {n} picks the same version as replica 1 for each of {len(USERS)} users",
            lambda: (v := _versions(cluster, tenant.key, model, n)) == on_first and v,
            WARM_S,
            interval=0.2,
        )
    # Through nginx (any replica, any connection) too, twice.
    for _ in range(2):
        assert _versions(cluster, tenant.key, model, None) == on_first


def test_a_document_uploaded_through_one_replica_is_searchable_through_the_others(cluster, mock_model):
    tenant = new_tenant(cluster, "kb")
    admin = cluster.admin(1)
    kb = f"kb-{tenant.name}"
    admin.post("/knowledge-bases", {"name": kb, "tenant": tenant.name, "embedding": {"upstream": "mock", "model": "mock-embed"}})
    # The knowledge base itself reaches the other replicas like any catalog change.
    for n in range(2, len(cluster.replicas) + 1):
        url = f"{cluster.replicas[n - 1]}/v1/knowledge-bases/{kb}/search"
        wait_until(
            f"the knowledge base {kb} on replica {n}",
            lambda: requests.post(url, json={"query": "anything", "mode": "keyword"}, headers={"Authorization": f"Bearer {tenant.key}"}, timeout=10).status_code == 200,
            WARM_S,
        )

    word = "zyxquorvantel"
    doc = admin.post(
        f"/knowledge-bases/{kb}/documents?tenant={tenant.name}",
        {"title": "Cluster notes", "text": f"# Cluster notes\n\nThe {word} clause covers replicas that come and go.", "content_type": "text/markdown"},
    )
    assert doc["id"] and doc["chunks"] >= 1, doc

    took = {}
    for n in range(2, len(cluster.replicas) + 1):
        for mode in ("keyword", "hybrid"):
            url = f"{cluster.replicas[n - 1]}/v1/knowledge-bases/{kb}/search"

            def found() -> bool:
                r = requests.post(url, json={"query": word, "top_k": 3, "mode": mode}, headers={"Authorization": f"Bearer {tenant.key}"}, timeout=10)
                return r.status_code == 200 and any(h["document_id"] == doc["id"] for h in r.json()["data"])

            _, took[(n, mode)] = wait_until(f"the new document found by {mode} search on replica {n}", found, KNOWLEDGE_S, interval=0.1)
    print(f"\ndocument searchable after {', '.join(f'replica {n} {m}: {s * 1000:.0f} ms' for (n, m), s in took.items())}")


def test_the_usage_report_through_any_replica_shows_the_traffic_of_all(cluster, mock_model):
    tenant = new_tenant(cluster, "usage")
    per_replica = 4
    for n in range(1, len(cluster.replicas) + 1):
        client = cluster.client(tenant.key, n)
        for _ in range(per_replica):
            chat(client, mock_model)
    total = per_replica * len(cluster.replicas)

    # Each replica writes its buffered usage within usage.flush_interval_ms (1 s here).
    for n in range(1, len(cluster.replicas) + 1):
        admin = cluster.admin(n)

        def counted() -> int | None:
            rows = admin.get(f"/usage?tenant={tenant.name}&group_by=model")["data"]
            requests_ = sum(r["requests"] for r in rows)
            return requests_ if requests_ == total else None

        wait_until(f"the usage report through replica {n} counts all {total} requests", counted, 10.0, interval=0.2)
    # And the same per-key figure through nginx.
    rows = cluster.admin(None).get(f"/usage?tenant={tenant.name}&group_by=key")["data"]
    assert [(r["key"], r["requests"]) for r in rows] == [(tenant.key_id, total)], rows


def test_the_audit_log_is_one_log_through_every_replica(cluster):
    tenant = new_tenant(cluster, "audit")
    # One change through each replica: the tenant's rpm set to 100 + n through replica n.
    for n in range(1, len(cluster.replicas) + 1):
        cluster.admin(n).call("PATCH", f"/tenants/{tenant.name}", json={"rpm": 100 + n})
    expected = {100 + n for n in range(1, len(cluster.replicas) + 1)}
    # Every replica's audit log shows all of them, newest first, with one id sequence.
    for n in [*range(1, len(cluster.replicas) + 1), None]:
        entries = cluster.admin(n).get(f"/audit?tenant={tenant.name}&action=tenant.update")["data"]
        seen = {((e.get("detail") or {}).get("after") or {}).get("rpm") for e in entries}
        assert expected <= seen, (n, entries)
        ids = [e["id"] for e in entries]
        assert ids == sorted(ids, reverse=True), ids


def test_the_printed_curl_lines_work_through_nginx(cluster):
    """scripts/cluster.sh prints curl lines for the demo tenant (config/catalog); they answer through nginx."""
    assert cluster.demo_key, "scripts/cluster.sh issued no key for the tenant demo"
    headers = {"Authorization": f"Bearer {cluster.demo_key}"}
    r = requests.post(cluster.url + "/v1/chat/completions", headers=headers, timeout=30,
                      json={"model": "assistant", "messages": [{"role": "user", "content": "Say hello in one sentence."}]})
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"], r.text
    with requests.post(cluster.url + "/v1/chat/completions", headers=headers, timeout=30, stream=True,
                       json={"model": "customer-service", "stream": True, "messages": [{"role": "user", "content": "Can I change my address?"}],
                             "variables": {"company": "Acme Mutual"}}) as s:
        assert s.status_code == 200 and s.headers["content-type"].startswith("text/event-stream"), s.text
        lines = [line for line in s.iter_lines() if line]
    assert lines[-1] == b"data: [DONE]" and len(lines) > 3, lines
    r = requests.post(cluster.url + "/v1/knowledge-bases/handbook/search", headers=headers, timeout=30,
                      json={"query": "grace period", "top_k": 3, "mode": "keyword"})
    assert r.status_code == 200 and r.json()["data"], r.text
