"""The declarative catalog (config/catalog) applied by a gateway at start (TRELLIS_CATALOG_DIR): what the
demo tenants see, that applying the same files again changes nothing, and that a changed model spec adds
a version. A second gateway of its own (own data dir) runs against the session's model server; the
files are a temporary copy of config/catalog with the upstream's base_url pointed at that server."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from conftest import REPO, Admin, Gateway, assert_clean_exit, make_client, start_gateway, stop_gateway

CATALOG = REPO / "config" / "catalog"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def dump(path: Path, document: dict) -> None:
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")


def catalog_entries(admin: Admin) -> list[dict]:
    """Audit entries written by the catalog applier, oldest first."""
    data = admin.get("/audit?limit=1000")["data"]
    return sorted((e for e in data if e["actor"] == "catalog"), key=lambda e: e["id"])


class CatalogGateway:
    """A gateway that can be restarted on the same data dir and catalog files."""

    def __init__(self, root: Path, catalog_dir: Path) -> None:
        self.root = root
        self.catalog_dir = catalog_dir
        self.admin_key = "op-catalog-" + root.name
        self.gw: Gateway | None = None
        self.starts = 0

    def start(self) -> Gateway:
        assert self.gw is None
        self.starts += 1
        self.gw = start_gateway(
            self.root,
            admin_key=self.admin_key,
            extra_env={"TRELLIS_CATALOG_DIR": str(self.catalog_dir)},
            log_name=f"trellis-{self.starts}.log",
        )
        return self.gw

    def stop(self) -> None:
        if self.gw is not None:
            gw, self.gw = self.gw, None
            assert_clean_exit(gw, stop_gateway(gw))

    def restart(self) -> Gateway:
        self.stop()
        return self.start()

    @property
    def admin(self) -> Admin:
        assert self.gw is not None
        return Admin(self.gw.url, self.gw.admin_key)


@pytest.fixture(scope="module")
def catalog_copy(tmp_path_factory: pytest.TempPathFactory, model_base_url: str) -> Path:
    target = tmp_path_factory.mktemp("catalog") / "catalog"
    shutil.copytree(CATALOG, target)
    upstreams = target / "10-upstreams.yaml"
    document = load(upstreams)
    local = [u for u in document["upstreams"] if u["name"] == "local"]
    assert len(local) == 1, document
    local[0]["base_url"] = model_base_url
    dump(upstreams, document)
    return target


@pytest.fixture(scope="module")
def catalog_gateway(tmp_path_factory: pytest.TempPathFactory, catalog_copy: Path) -> Iterator[CatalogGateway]:
    cg = CatalogGateway(tmp_path_factory.mktemp("catalog-gateway"), catalog_copy)
    cg.start()
    try:
        yield cg
    finally:
        cg.stop()


def model_ids(gw: Gateway, key: str) -> set[str]:
    return {m.id for m in make_client(gw, key).models.list().data}


def test_catalog_models_per_tenant_and_idempotent_restart(catalog_gateway: CatalogGateway):
    gw = catalog_gateway.gw
    admin = catalog_gateway.admin

    tenants = {t["name"] for t in admin.get("/tenants")["data"]}
    assert {"demo", "claims-dept"} <= tenants, tenants

    demo_key = admin.create_key("demo", "catalog-e2e", ["inference"])["key"]
    claims_key = admin.create_key("claims-dept", "catalog-e2e", ["inference"])["key"]

    demo_sees = model_ids(gw, demo_key)
    assert {"assistant", "customer-service", "embedder"} <= demo_sees, demo_sees
    assert not {"claims-assistant", "claims-assistant-ft"} & demo_sees, demo_sees
    claims_sees = model_ids(gw, claims_key)
    assert {"assistant", "claims-assistant", "claims-assistant-ft"} <= claims_sees, claims_sees

    # The catalog's upstream is the session's model server: a real answer through a catalog model with a
    # library prompt and a variable.
    reply = make_client(gw, demo_key).chat.completions.create(
        model="customer-service",
        messages=[{"role": "user", "content": "Can I change my address?"}],
        max_tokens=8,
        extra_body={"variables": {"company": "Acme Mutual"}},
    )
    assert reply.choices[0].message.content.strip(), reply

    # The catalog's router model: a short question goes to its small child.
    routed = make_client(gw, demo_key).chat.completions.with_raw_response.create(
        model="smart-assistant", messages=[{"role": "user", "content": "Say hello."}], max_tokens=8)
    assert routed.headers["x-trellis-routed-to"] == "assistant@1"
    assert routed.parse().model == "smart-assistant"

    applied = catalog_entries(admin)
    assert applied, "no audit entries by the catalog"
    actions = {(e["action"], e["target"]) for e in applied}
    for target in ("model:assistant", "model:customer-service", "model:embedder", "model:claims-assistant"):
        assert ("model.create", target) in actions, sorted(actions)
    assert ("adapter.create", "adapter:claims-lora") in actions, sorted(actions)

    # Same files, same data: nothing changes.
    catalog_entries_before = [e["id"] for e in applied]
    gw = catalog_gateway.restart()
    admin = catalog_gateway.admin
    assert [e["id"] for e in catalog_entries(admin)] == catalog_entries_before
    # What was issued before the restart still works, and the models are all still at version 1.
    assert {"assistant", "customer-service", "embedder"} <= model_ids(gw, demo_key)
    for name in ("assistant", "customer-service", "embedder", "claims-assistant", "smart-assistant"):
        assert admin.get(f"/models/{name}")["latest_version"] == 1, name


def test_changed_spec_adds_a_version(catalog_gateway: CatalogGateway):
    models_file = catalog_gateway.catalog_dir / "40-models.yaml"
    document = load(models_file)
    assistant = next(m for m in document["models"] if m["name"] == "assistant")
    old_params = dict(assistant["spec"]["params"])
    assistant["spec"]["params"]["temperature"] = 0.7
    assert assistant["spec"]["params"] != old_params
    dump(models_file, document)

    before = [e["id"] for e in catalog_entries(catalog_gateway.admin)]
    catalog_gateway.restart()
    admin = catalog_gateway.admin

    info = admin.get("/models/assistant")
    assert [v["version"] for v in info["versions"]] == [1, 2], info
    assert info["versions"][1]["spec"]["params"]["temperature"] == 0.7, info
    assert info["versions"][0]["spec"]["params"] == old_params, info
    # Without `traffic` in the file, a new version is published but not rolled out.
    assert info["traffic"] == {"1": 100}, info
    # Only that model changed.
    for name in ("customer-service", "embedder", "claims-assistant", "claims-assistant-ft"):
        assert admin.get(f"/models/{name}")["latest_version"] == 1, name
    new = [e for e in catalog_entries(admin) if e["id"] not in before]
    assert [(e["action"], e["target"]) for e in new] == [("model.version.create", "model:assistant")], new

    # And the new version serves pinned requests.
    key = admin.create_key("demo", "catalog-e2e-2", ["inference"])["key"]
    raw = make_client(catalog_gateway.gw, key).chat.completions.with_raw_response.create(
        model="assistant@2", messages=[{"role": "user", "content": "Hi"}], max_tokens=2
    )
    assert raw.headers.get("x-trellis-model-version") == "2"

    # Applying the changed files once more is again a no-op.
    after = [e["id"] for e in catalog_entries(admin)]
    catalog_gateway.restart()
    assert [e["id"] for e in catalog_entries(catalog_gateway.admin)] == after
