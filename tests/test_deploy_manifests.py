"""deploy/: the kustomize overlays render with `kubectl kustomize` and every object validates
against the Kubernetes API's schemas; the manifests keep their promises to the server (gRPC
health probes, a termination grace that covers the drain, settings that exist, secrets by
reference, every rules file in the ConfigMap); the Containerfile passes hadolint and builds a
non-root image from the repository's own files (ADR 0062).

kubectl, hadolint and the schemas come from wheels in the dev extras (nothing is fetched at
test time); no cluster and no container engine is needed.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from billing.config import Settings
from conftest import Server

ROOT = Path(__file__).parents[1]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
CONTAINERFILE = ROOT / "deploy" / "Containerfile"
# The oldest Kubernetes the manifests are for (preStop `sleep` is on by default from 1.30)
# and the newest the schemas know.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
BIN = Path(sys.executable).parent
GRPC_PORT = 50051
PRESTOP_S = 5
DRAIN_SPARE_S = 5  # closing pools and processes after the calls' grace
SETTING_NAMES = {f"BILLING_{f.name.upper()}" for f in dataclasses.fields(Settings)}
# Settings whose values are secrets: only ever from a Secret, by reference.
SECRET_SETTINGS = {
    "BILLING_DATABASE_URL",
    "BILLING_ENCRYPTION_KEYS",
    "BILLING_AUTH_HS256_SECRET",
    "BILLING_SMTP_URL",
    "BILLING_TOKEN",  # the CLI's bearer token (rules push)
}
SECRET_NAME_PATTERN = re.compile(r"SECRET|PASSWORD|TOKEN|_KEYS?$|PRIVATE|CREDENTIAL", re.I)


def _tool(name: str) -> str:
    path = BIN / name
    found = str(path) if path.exists() else shutil.which(name)
    assert found, f"{name} is installed by `make install` (dev extras)"
    return found


@functools.cache
def rendered(overlay: str) -> tuple[dict[str, Any], ...]:
    out = subprocess.run(
        [_tool("kubectl"), "kustomize", str(K8S / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return tuple(d for d in yaml.safe_load_all(out) if d)


def one(overlay: str, kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        d
        for d in rendered(overlay)
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"{overlay}: {len(found)} {kind} {name or ''}"
    return found[0]


def pod_specs(overlay: str) -> list[dict[str, Any]]:
    return [
        d["spec"]["template"]["spec"]
        for d in rendered(overlay)
        if d["kind"] in {"Deployment", "Job"}
    ]


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


# -- rendering and schemas ---------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_the_expected_objects(overlay: str) -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"].rsplit("-", 1)[0]) for d in rendered(overlay))
    assert [k for k, _ in kinds] == [
        "ConfigMap",
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "Job",
        "Job",
        "NetworkPolicy",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    ]
    namespace = {"dev": "billing-dev", "prod": "billing"}[overlay]
    assert {d["metadata"]["namespace"] for d in rendered(overlay)} == {namespace}
    assert not [d for d in rendered(overlay) if d["kind"] == "Secret"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_validates_against_the_api_schemas(
    overlay: str, version: str
) -> None:
    for obj in rendered(overlay):
        # strict: a misspelt or misplaced field is an error, not silently dropped.
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_validator_refuses_a_misplaced_field() -> None:
    """The check above can fail: a probe field one level too high is refused."""
    deployment = yaml.safe_load(yaml.safe_dump(one("prod", "Deployment")))
    deployment["spec"]["template"]["spec"]["containers"][0]["periodSeconds"] = 5
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


# -- the server's promises ---------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_are_grpc_health_on_the_served_port(overlay: str) -> None:
    server = one(overlay, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert server["ports"] == [
        {"name": "grpc", "containerPort": GRPC_PORT, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 9464, "protocol": "TCP"},  # ADR 0061
    ]
    assert env_of(server)["BILLING_METRICS_LISTEN"]["value"] == "0.0.0.0:9464"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert server[probe]["grpc"] == {"port": GRPC_PORT}, probe  # service "": the server
    listen = env_of(server).get("BILLING_LISTEN")
    assert listen is None  # the image's BILLING_LISTEN=0.0.0.0:50051 stands
    assert "BILLING_LISTEN=0.0.0.0:50051" in CONTAINERFILE.read_text()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_termination_grace_covers_prestop_and_the_drain_setting(overlay: str) -> None:
    spec = one(overlay, "Deployment")["spec"]["template"]["spec"]
    server = spec["containers"][0]
    field = "shutdown_grace_seconds"  # the drain (runtime.Runtime.stop)
    assert field in {f.name for f in dataclasses.fields(Settings)}
    setting = env_of(server).get(f"BILLING_{field.upper()}")
    grace = int(setting["value"]) if setting else getattr(Settings(), field)
    assert server["lifecycle"]["preStop"] == {"sleep": {"seconds": PRESTOP_S}}
    assert spec["terminationGracePeriodSeconds"] == PRESTOP_S + grace + DRAIN_SPARE_S


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_billing_variable_is_a_setting_and_secrets_come_by_reference(overlay: str) -> None:
    seen = set()
    for spec in pod_specs(overlay):
        for container in containers(spec):
            for name, entry in env_of(container).items():
                seen.add(name)
                assert name in SETTING_NAMES | {"BILLING_TOKEN"}, name
                if name in SECRET_SETTINGS or SECRET_NAME_PATTERN.search(name):
                    assert "value" not in entry, name
                    assert entry["valueFrom"]["secretKeyRef"]["name"] == "billing", name
            assert "envFrom" not in container  # every variable named, none by bulk
    assert {"BILLING_DATABASE_URL", "BILLING_ENCRYPTION_KEYS", "BILLING_TOKEN"} <= seen
    assert "BILLING_ENABLE_FAULT_INJECTION" not in seen


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_connection_age_is_capped_for_client_side_balancing(overlay: str) -> None:
    service = one(overlay, "Service", "billing")
    assert service["spec"]["clusterIP"] == "None"  # headless: DNS lists every pod
    assert service["spec"]["ports"][0]["targetPort"] == "grpc"
    env = env_of(one(overlay, "Deployment")["spec"]["template"]["spec"]["containers"][0])
    assert int(env["BILLING_MAX_CONNECTION_AGE_SECONDS"]["value"]) > 0


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_selectors_hpa_pdb_and_network_policy_point_at_the_server_pods(overlay: str) -> None:
    deployment = one(overlay, "Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    assert one(overlay, "Service")["spec"]["selector"] == selector
    assert one(overlay, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    hpa = one(overlay, "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "billing",
    }
    assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]
    policy = one(overlay, "NetworkPolicy", "billing")["spec"]
    assert policy["podSelector"]["matchLabels"] == selector
    assert policy["ingress"][0]["ports"] == [{"port": "grpc", "protocol": "TCP"}]
    # The rules-push Job is a client the policy lets in; the Job pods are not server pods.
    push = one(overlay, "Job", "billing-rules-push")["spec"]["template"]["metadata"]["labels"]
    assert push["billing.example.com/client"] == "true"
    assert not selector.items() <= push.items()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_migration_job_runs_billing_migrate_on_the_same_image(overlay: str) -> None:
    job = one(overlay, "Job", "billing-migrate")["spec"]["template"]["spec"]
    server = one(overlay, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    (migrate,) = job["containers"]
    assert migrate["args"] == ["migrate"]
    assert migrate["image"] == server["image"]
    assert env_of(migrate)["BILLING_DATABASE_URL"] == env_of(server)["BILLING_DATABASE_URL"]
    assert job["restartPolicy"] == "Never"
    # deploy/README.md applies it first with this selector: it must pick the Job alone.
    picked = [
        d["metadata"]["name"]
        for d in rendered(overlay)
        if d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "migrate"
    ]
    assert picked == ["billing-migrate"]
    readme = (ROOT / "deploy" / "README.md").read_text()
    assert "--selector app.kubernetes.io/component=migrate" in readme


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_run_unprivileged_as_the_image_user(overlay: str) -> None:
    uid = _containerfile_user()
    for spec in pod_specs(overlay):
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == uid
        assert spec["automountServiceAccountToken"] is False
        for container in containers(spec):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"] == {"drop": ["ALL"]}


# -- rules as ConfigMaps -----------------------------------------------------------------


def _rules_files() -> dict[str, Path]:
    return {p.name: p for p in sorted((ROOT / "rules").glob("*.yaml"))}


def _template_files() -> dict[str, Path]:
    base = ROOT / "rules"
    return {
        str(p.relative_to(base)): p for p in sorted((base / "templates").rglob("*")) if p.is_file()
    }


def test_the_rules_kustomization_lists_every_rules_file_and_template() -> None:
    """A rules/*.yaml (or template) added without a line here would never reach a pod."""
    kustomization = yaml.safe_load((ROOT / "rules" / "Kustomization").read_text())
    generators = {g["name"]: g["files"] for g in kustomization["configMapGenerator"]}
    assert sorted(generators["billing-rules"]) == sorted(_rules_files())
    assert sorted(generators["billing-templates"]) == sorted(_template_files())
    assert not list((ROOT / "rules").glob("*.yml"))  # the generator lists .yaml only


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_configmaps_hold_the_rules_and_templates_byte_for_byte(overlay: str) -> None:
    maps = {
        d["metadata"]["name"].rsplit("-", 1)[0]: d
        for d in rendered(overlay)
        if d["kind"] == "ConfigMap"
    }
    assert maps["billing-rules"]["data"] == {n: p.read_text() for n, p in _rules_files().items()}
    templates = {Path(k).name: p.read_text() for k, p in _template_files().items()}
    assert maps["billing-templates"]["data"] == templates


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_see_the_rules_directory_as_the_repository_lays_it_out(overlay: str) -> None:
    """The projected volume puts every template back at its path under templates/, so
    `billing rules check /etc/billing/rules` and BILLING_TEMPLATES_DIR find them."""
    spec = one(overlay, "Deployment")["spec"]["template"]["spec"]
    (rules,) = [v for v in spec["volumes"] if v["name"] == "rules"]
    sources = rules["projected"]["sources"]
    assert sources[0]["configMap"]["name"].startswith("billing-rules-")
    assert "items" not in sources[0]["configMap"]  # every key, as named
    items = sources[1]["configMap"]["items"]
    assert sorted(i["path"] for i in items) == sorted(_template_files())
    assert all(Path(i["path"]).name == i["key"] for i in items)
    init = spec["initContainers"][0]
    assert init["args"] == ["rules", "check", "/etc/billing/rules"]
    assert "BILLING_TEMPLATES_DIR=/etc/billing/rules/templates" in CONTAINERFILE.read_text()
    assert "BILLING_RULES_DIR=/etc/billing/rules" in CONTAINERFILE.read_text()


# -- the Containerfile -------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text())
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def _containerfile_user() -> int:
    users = [args for op, args in _instructions() if op == "USER"]
    return int(users[-1].split(":")[0])


def test_containerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [_tool("hadolint"), "--failure-threshold", "info", str(CONTAINERFILE)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_containerfile_is_multi_stage_non_root_and_bakes_in_no_secret() -> None:
    instructions = _instructions()
    stages = [args for op, args in instructions if op == "FROM"]
    assert len(stages) == 2 and stages[0].endswith(" AS build")
    final = instructions[[op for op, _ in instructions].index("FROM", 1) :]
    assert [op for op, _ in final].count("USER") == 1
    assert _containerfile_user() >= 10000  # not root, not a system account of the base
    assert ("COPY", "--from=build /opt/billing/venv /opt/billing/venv") in final
    assert any(op == "HEALTHCHECK" and "grpc_health" in args for op, args in final)
    for op, args in instructions:
        if op in {"ENV", "ARG"}:
            names = re.findall(r"([A-Z_][A-Z0-9_]*)=", args)
            assert not [n for n in names if SECRET_NAME_PATTERN.search(n)], args
            assert "BILLING_DATABASE_URL" not in args


def test_containerfile_copies_only_repository_files_the_install_needs() -> None:
    copies = [args.split() for op, args in _instructions() if op == "COPY" and "--from" not in args]
    sources = [src for parts in copies for src in parts[:-1]]
    assert sources == [
        "clients/python/",
        "pyproject.toml",
        "README.md",
        "server/",
        "plugins/billing_builtin/",
    ]
    assert all((ROOT / src).exists() for src in sources)
    assert ("RUN", "/opt/billing/venv/bin/pip install ./clients/python .") in _instructions()
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".env", ".git", "var"} <= set(ignored)


def _materialize_rules_volume(overlay: str, into: Path) -> Path:
    """What a pod sees at /etc/billing/rules: the projected volume laid out from the rendered
    ConfigMaps, as the kubelet does (keys at the top, items at their paths)."""
    maps = {d["metadata"]["name"]: d["data"] for d in rendered(overlay) if d["kind"] == "ConfigMap"}
    spec = one(overlay, "Deployment")["spec"]["template"]["spec"]
    (volume,) = [v for v in spec["volumes"] if v["name"] == "rules"]
    for source in volume["projected"]["sources"]:
        data = maps[source["configMap"]["name"]]
        items = source["configMap"].get("items") or [{"key": k, "path": k} for k in data]
        for item in items:
            target = into / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(data[item["key"]])
    return into


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_mounted_rules_pass_the_init_containers_check(
    overlay: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from billing import rules_cli

    directory = _materialize_rules_volume(overlay, tmp_path / "rules")
    assert rules_cli.check(directory) == 0
    assert rules_cli.check(ROOT / "rules") == 0
    ours, repos = (line.split(", rule set ")[1] for line in capsys.readouterr().out.splitlines())
    assert ours == repos  # the same rule set, by content hash, as the repository's rules/


def _healthcheck_command() -> list[str]:
    (args,) = [args for op, args in _instructions() if op == "HEALTHCHECK"]
    return list(json.loads(args.split(" CMD ", 1)[1]))


def test_the_image_healthcheck_asks_grpc_health(sqlite_server: Server) -> None:
    command = _healthcheck_command()
    assert command[0] == "python"
    script = command[2].replace("127.0.0.1:50051", sqlite_server.target)
    assert script != command[2]
    serving = subprocess.run([sys.executable, "-c", script], check=False, timeout=30)
    assert serving.returncode == 0
    nobody = socket.create_server(("127.0.0.1", 0))  # a port that answers no gRPC
    try:
        silent = script.replace(sqlite_server.target, f"127.0.0.1:{nobody.getsockname()[1]}")
        refused = subprocess.run(
            [sys.executable, "-c", silent], check=False, capture_output=True, timeout=30
        )
    finally:
        nobody.close()
    assert refused.returncode != 0
