"""Behaviour of the Helm chart, asserted on `helm template` output (helm-unittest is not installable here)."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))  # works under any --import-mode
from deploy_helpers import (  # noqa: E402
    CHART,
    CI_VALUES,
    HELM,
    SERVICEMONITOR_API,
    env_of,
    helm_fails,
    kinds,
    needs_helm,
    one,
    pod_spec,
    render,
    server,
)

pytestmark = [pytest.mark.deploy, needs_helm]

CI_FILES = sorted(p.name for p in CI_VALUES.glob("*.yaml"))
ALL_ON = "all-on-values.yaml"
SCENARIOS = [(), *((f,) for f in CI_FILES)]


def test_ci_values_files_exist() -> None:
    assert ALL_ON in CI_FILES and len(CI_FILES) >= 2


# --- GPU scheduling ----------------------------------------------------------------------------------


def test_gpu_limit_and_toleration_by_default() -> None:
    docs = render()
    limits = server(docs)["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == 1
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod_spec(docs)["tolerations"]


def test_gpu_count_and_mig_resource() -> None:
    assert server(render(sets=("gpu.count=2",)))["resources"]["limits"]["nvidia.com/gpu"] == 2
    mig = server(render("existing-secrets-values.yaml"))["resources"]["limits"]
    assert mig["nvidia.com/mig-3g.40gb"] == 1 and "nvidia.com/gpu" not in mig


def test_cpu_only_has_no_gpu_and_no_gpu_toleration() -> None:
    docs = render("cpu-values.yaml")
    assert not any("gpu" in k for k in server(docs)["resources"].get("limits", {}))
    assert "tolerations" not in pod_spec(docs)


def test_user_tolerations_are_kept_beside_the_gpu_one() -> None:
    tolerations = pod_spec(render(ALL_ON))["tolerations"]
    assert {t["key"] for t in tolerations} == {"dedicated", "nvidia.com/gpu"}


def test_affinity_off_by_default_and_on_when_asked() -> None:
    assert "affinity" not in pod_spec(render())
    spec = pod_spec(render(sets=("gpu.products={NVIDIA-H100-80GB-HBM3}",)))
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "nvidia.com/gpu.product", "operator": "In",
                                            "values": ["NVIDIA-H100-80GB-HBM3"]}]}]
    # all-on: the product rule and the user's own podAntiAffinity side by side
    merged = pod_spec(render(ALL_ON))["affinity"]
    assert set(merged) == {"nodeAffinity", "podAntiAffinity"}
    assert merged["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0][
        "matchExpressions"][0]["values"] == ["NVIDIA-H100-80GB-HBM3", "NVIDIA-A100-SXM4-80GB"]


def test_affinity_passthrough_and_conflict() -> None:
    spec = pod_spec(render(sets=("affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight=1",
                                 "affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]"
                                 ".preference.matchExpressions[0].key=zone",
                                 "affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]"
                                 ".preference.matchExpressions[0].operator=Exists")))
    assert "preferredDuringSchedulingIgnoredDuringExecution" in spec["affinity"]["nodeAffinity"]
    err = helm_fails("--set", "gpu.products={A100}", "--set", "affinity.nodeAffinity.x=1")
    assert "gpu.products" in err


def test_runtime_class_and_node_selector_passthrough() -> None:
    spec = pod_spec(render(ALL_ON))
    assert spec["runtimeClassName"] == "nvidia"
    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert spec["priorityClassName"] == "training-critical"


# --- probes and shutdown -------------------------------------------------------------------------------


@pytest.mark.parametrize("files", SCENARIOS, ids=lambda f: f[0] if f else "defaults")
def test_probes_use_the_named_port_and_the_right_paths(files: tuple[str, ...]) -> None:
    docs = render(*files)
    c = server(docs)
    assert [p["name"] for p in c["ports"]] == ["http"]
    expected = {"startupProbe": "/health", "readinessProbe": "/ready", "livenessProbe": "/health"}
    protected = bool(yaml.safe_load((CI_VALUES / files[0]).read_text()).get("config", {}).get("protectProbes")
                     ) if files else False
    for probe, path in expected.items():
        if protected:  # httpGet cannot send the key: the exec probe does (see test_exec_probe_*)
            assert c[probe]["exec"]["command"][:2] == ["python", "-c"] and c[probe]["exec"]["command"][3] == path
        else:
            assert c[probe]["httpGet"] == {"path": path, "port": "http"}, probe
    startup = c["startupProbe"]
    budget = startup["periodSeconds"] * startup["failureThreshold"]
    assert budget >= 15 * 60, "a large model must have at least 15 min to come up"
    assert one(docs, "Deployment")["spec"]["progressDeadlineSeconds"] >= budget


@pytest.mark.parametrize("sets", [(), ("shutdown.preStopSleepSeconds=0",),
                                  ("shutdown.drainTimeoutSeconds=600", "shutdown.preStopSleepSeconds=45")])
@pytest.mark.parametrize("files", SCENARIOS, ids=lambda f: f[0] if f else "defaults")
def test_grace_period_exceeds_prestop_plus_drain(files: tuple[str, ...], sets: tuple[str, ...]) -> None:
    docs = render(*files, sets=sets)
    c = server(docs)
    pre_stop = c["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    sleep = int(pre_stop[1])
    drain = float(env_of(c)["HERO_DRAIN_TIMEOUT_S"]["value"])
    assert pod_spec(docs)["terminationGracePeriodSeconds"] > sleep + drain


def test_drain_timeout_comes_from_the_shutdown_value() -> None:
    c = server(render(sets=("shutdown.drainTimeoutSeconds=77",)))
    assert env_of(c)["HERO_DRAIN_TIMEOUT_S"]["value"] == "77"


class _ProbeTarget(http.server.BaseHTTPRequestHandler):
    """/health: 200 with the right key; /ready: 503 (still loading). 401 without the key."""

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if self.headers.get("Authorization") != "Bearer key-one":
            self.send_response(401)
        else:
            self.send_response(200 if self.path == "/health" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def probe_target() -> Iterator[int]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ProbeTarget)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()


def test_exec_probe_sends_the_first_api_key_and_fails_on_non_2xx(probe_target: int) -> None:
    """The protectProbes exec probe, run for real: exit 0 only on a 2xx answered to the right key."""
    c = server(render(ALL_ON))
    assert env_of(c)["HERO_API_KEYS"]["valueFrom"]  # the key the probe reads comes from the Secret

    def run(probe: str, keys: str) -> int:
        cmd = c[probe]["exec"]["command"]
        env = {"HERO_PORT": str(probe_target), "HERO_API_KEYS": keys, "PATH": "/usr/bin:/bin"}
        return subprocess.run([sys.executable, *cmd[1:]], env=env, capture_output=True, timeout=30).returncode

    assert run("livenessProbe", "key-one, key-two") == 0
    assert run("startupProbe", "key-one") == 0
    assert run("livenessProbe", "wrong") != 0
    assert run("readinessProbe", "key-one,key-two") != 0  # 503 -> not ready


def test_servicemonitor_authorization_passthrough() -> None:
    sm = one(render(ALL_ON, api_versions=(SERVICEMONITOR_API,)), "ServiceMonitor")
    assert sm["spec"]["endpoints"][0]["authorization"]["credentials"] == {"name": "hero-metrics-key", "key": "token"}


# --- storage and security ---------------------------------------------------------------------------------


def volumes_by_mount(docs: list[dict]) -> dict[str, dict]:
    spec = pod_spec(docs)
    volumes = {v["name"]: v for v in spec["volumes"]}
    return {m["mountPath"]: volumes[m["name"]] for m in server(docs)["volumeMounts"]}


@pytest.mark.parametrize("files", SCENARIOS, ids=lambda f: f[0] if f else "defaults")
def test_hardened_security_context(files: tuple[str, ...]) -> None:
    docs = render(*files)
    pod, sc = pod_spec(docs)["securityContext"], server(docs)["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod_spec(docs)["automountServiceAccountToken"] is False


def test_writable_paths_are_volumes_and_shm_is_memory() -> None:
    docs = render()
    mounts = volumes_by_mount(docs)
    env = env_of(server(docs))
    for path in ("/tmp", env["HF_HOME"]["value"], env["XDG_CACHE_HOME"]["value"]):
        assert path in mounts, f"{path} must be a volume: the root filesystem is read-only"
    assert mounts["/dev/shm"]["emptyDir"]["medium"] == "Memory"
    assert mounts["/dev/shm"]["emptyDir"]["sizeLimit"]
    assert "/dev/shm" not in volumes_by_mount(render("cpu-values.yaml"))


def test_moved_cache_path_moves_every_cache_variable() -> None:
    docs = render(sets=("scratch.cacheMountPath=/scratch/cache", "modelCache.mountPath=/models"))
    mounts = volumes_by_mount(docs)
    env = env_of(server(docs))
    assert env["XDG_CACHE_HOME"]["value"] == "/scratch/cache" and "/scratch/cache" in mounts
    assert env["TRITON_CACHE_DIR"]["value"].startswith("/scratch/cache/")
    assert env["HF_HOME"]["value"] == "/models" and "/models" in mounts


def test_model_cache_variants() -> None:
    # default: emptyDir, no claim
    docs = render()
    assert "emptyDir" in volumes_by_mount(docs)["/cache/huggingface"]
    assert "PersistentVolumeClaim" not in kinds(docs)
    # pvc: the chart's claim, kept on uninstall
    docs = render(ALL_ON)
    pvc = one(docs, "PersistentVolumeClaim")
    assert volumes_by_mount(docs)["/cache/huggingface"]["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "200Gi"
    # existingClaim, read-only
    docs = render("existing-secrets-values.yaml")
    vol = volumes_by_mount(docs)["/cache/huggingface"]["persistentVolumeClaim"]
    assert vol == {"claimName": "reward-models", "readOnly": True}
    assert "PersistentVolumeClaim" not in kinds(docs)
    assert "existingClaim" in helm_fails("--set", "modelCache.type=existingClaim")


# --- secrets ----------------------------------------------------------------------------------------------


def test_no_secrets_by_default() -> None:
    docs = render()
    env = env_of(server(docs))
    assert "HERO_API_KEYS" not in env and "HF_TOKEN" not in env
    assert "Secret" not in kinds(docs)


def test_chart_created_secrets() -> None:
    docs = render(ALL_ON)
    secrets = {s["metadata"]["name"]: s for s in kinds(docs)["Secret"]}
    env = env_of(server(docs))
    ref = env["HERO_API_KEYS"]["valueFrom"]["secretKeyRef"]
    assert secrets[ref["name"]]["stringData"][ref["key"]] == "key-one,key-two"
    ref = env["HF_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert secrets[ref["name"]]["stringData"][ref["key"]] == "hf_dummy_token_for_ci"
    assert "value" not in env["HERO_API_KEYS"] and "value" not in env["HF_TOKEN"]


def test_existing_secrets_are_referenced_not_created() -> None:
    docs = render("existing-secrets-values.yaml")
    env = env_of(server(docs))
    assert env["HERO_API_KEYS"]["valueFrom"]["secretKeyRef"] == {"name": "hero-api-keys", "key": "keys"}
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "hf-token", "key": "HF_TOKEN"}
    assert "Secret" not in kinds(docs)
    assert "ServiceAccount" not in kinds(docs)
    assert pod_spec(docs)["serviceAccountName"] == "ml-runner"


def test_secret_change_rolls_the_pods() -> None:
    a = one(render(ALL_ON), "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]
    b = one(render(ALL_ON, sets=("auth.apiKeys={other}",)), "Deployment")["spec"]["template"]["metadata"][
        "annotations"]["checksum/secret"]
    assert a != b


# --- Service and optional objects --------------------------------------------------------------------------


def test_service_targets_the_named_port_with_optional_affinity() -> None:
    svc = one(render(), "Service")
    assert svc["spec"]["ports"] == [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}]
    assert svc["spec"]["sessionAffinity"] == "None" and "sessionAffinityConfig" not in svc["spec"]
    svc = one(render(ALL_ON), "Service")
    assert svc["spec"]["sessionAffinity"] == "ClientIP"
    assert svc["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 3600}}


def test_servicemonitor_only_with_the_crd_api_version() -> None:
    assert "ServiceMonitor" not in kinds(render(ALL_ON))  # enabled, but the cluster has no CRD
    assert "ServiceMonitor" not in kinds(render(api_versions=(SERVICEMONITOR_API,)))  # CRD, but disabled
    sm = one(render(ALL_ON, api_versions=(SERVICEMONITOR_API,)), "ServiceMonitor")
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert sm["spec"]["endpoints"][0]["port"] == "http"
    assert sm["spec"]["endpoints"][0]["path"] == "/metrics"
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    svc = one(render(ALL_ON), "Service")
    assert all(svc["metadata"]["labels"][k] == v for k, v in sm["spec"]["selector"]["matchLabels"].items())


def test_grafana_dashboard_configmap_is_optional_and_carries_the_json() -> None:
    import json

    assert "ConfigMap" not in kinds(render())
    cm = one(render(ALL_ON), "ConfigMap")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["namespace"] == "monitoring"
    files = sorted(p.name for p in (CHART / "dashboards").glob("*.json"))
    assert sorted(cm["data"]) == files
    for name in files:
        assert json.loads(cm["data"][name]) == json.loads((CHART / "dashboards" / name).read_text())


def test_hpa_and_pdb_are_optional() -> None:
    docs = render()
    assert "HorizontalPodAutoscaler" not in kinds(docs) and "PodDisruptionBudget" not in kinds(docs)
    assert one(docs, "Deployment")["spec"]["replicas"] == 1
    docs = render(ALL_ON)
    hpa = one(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == one(docs, "Deployment")["metadata"]["name"]
    assert "replicas" not in one(docs, "Deployment")["spec"], "the HPA owns the replica count"
    assert {m["type"] for m in hpa["spec"]["metrics"]} == {"Resource", "Pods"}
    assert one(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1
    assert one(render("existing-secrets-values.yaml"), "PodDisruptionBudget")["spec"] == {
        "minAvailable": 1, "selector": one(docs, "PodDisruptionBudget")["spec"]["selector"]}


def test_rollout_never_drops_below_desired_by_default() -> None:
    strategy = one(render(), "Deployment")["spec"]["strategy"]
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0


def test_image_reference() -> None:
    assert server(render())["image"] == "hero-reward:0.1.0"
    assert server(render(sets=("image.tag=dev",)))["image"] == "hero-reward:dev"
    assert server(render(ALL_ON))["image"].startswith("registry.example.com/ml/hero-reward@sha256:")


# --- values schema ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("setting", "message"), [
    ("config.alpha=abc", "/config/alpha"),
    ("config.mode=best", "/config/mode"),
    ("config.rmModell=x", "rmModell"),
    ("config.maxBatchTokens=8", "/config/maxBatchTokens"),
    ("replicaCount=-1", "/replicaCount"),
    ("gpu.count=one", "/gpu/count"),
    ("modelCache.type=nfs", "/modelCache/type"),
    ("service.sessionAffinity=Sticky", "/service/sessionAffinity"),
    ("shutdown.drainTimeoutSeconds=soon", "/shutdown/drainTimeoutSeconds"),
    ("image.digest=latest", "/image/digest"),
    ("unknownTopLevel=1", "unknownTopLevel"),
])
def test_schema_rejects_bad_values(setting: str, message: str) -> None:
    assert message in helm_fails("--set", setting)


def test_schema_rejects_a_string_where_a_bool_belongs() -> None:
    assert "/config/weighting" in helm_fails("--set-string", "config.weighting=yes")


# --- NOTES ----------------------------------------------------------------------------------------------------


def test_notes_tell_trainers_how_to_connect() -> None:
    assert HELM is not None
    out = subprocess.run([HELM, "install", "rm", str(CHART), "--dry-run=client", "-f", str(CI_VALUES / ALL_ON)],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    notes = out[out.index("NOTES:"):]
    url = "http://rm-hero-reward.default.svc.cluster.local:8000"
    for needle in (f"--reward.remote_url \"{url}/get_reward?group_size=N", "hero_client.integrations.verl",
                   "reward_funcs=[HeroReward(",
        "pkg://hero_client.integrations.verl",
        "--algo.advantage.estimator dr_grpo", "hero_client.integrations.trl",
                   "algorithm.norm_adv_by_std_in_grpo=False", 'scale_rewards="none"', "port-forward svc/rm-hero-reward",
                   "Shared group state"):
        assert needle in notes, needle


# --- shared group state (Redis) -------------------------------------------------------------------------------


def test_no_state_store_by_default() -> None:
    docs = render()
    env = env_of(server(docs))
    assert "HERO_STATE_URL" not in env and "HERO_STATE_PASSWORD" not in env
    assert "StatefulSet" not in kinds(docs)


def test_the_charts_own_redis_is_wired_to_the_replicas() -> None:
    docs = render(ALL_ON)
    redis = one(docs, "StatefulSet", state_store=True)
    svc = one(docs, "Service", state_store=True)
    env = env_of(server(docs))
    assert env["HERO_STATE_URL"]["value"] == f"redis://{svc['metadata']['name']}:6379/0"
    assert env["HERO_STATE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "hero-redis", "key": "password"}
    container = redis["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].startswith("docker.io/library/redis:")
    assert "--requirepass" in container["args"] and "$(REDIS_PASSWORD)" in container["args"]
    assert container["env"][0]["valueFrom"]["secretKeyRef"] == {"name": "hero-redis", "key": "password"}
    # The server's Service must not select the Redis pod, and the Redis Service only selects it.
    pod_labels = redis["spec"]["template"]["metadata"]["labels"]
    server_svc = one(docs, "Service")
    assert not set(server_svc["spec"]["selector"].items()) <= set(pod_labels.items())
    assert set(svc["spec"]["selector"].items()) <= set(pod_labels.items())
    assert redis["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_an_existing_redis_is_referenced_not_created() -> None:
    docs = render("existing-secrets-values.yaml")
    env = env_of(server(docs))
    assert env["HERO_STATE_URL"]["value"] == "redis://redis-master.infra.svc.cluster.local:6379/0"
    assert env["HERO_STATE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "infra-redis", "key": "redis-password"}
    assert "StatefulSet" not in kinds(docs)
    assert "/stateStore/url" in helm_fails("--set", "stateStore.url=http://nope")


def test_notes_say_when_shared_state_is_needed() -> None:
    assert HELM is not None

    def notes(*args: str) -> str:
        out = subprocess.run([HELM, "install", "rm", str(CHART), "--dry-run=client", *args],
                             capture_output=True, text=True, timeout=60, check=True).stdout
        return out[out.index("NOTES:"):]

    assert "stateStore.redis.enabled=true" in notes("--set", "replicaCount=3")
    with_redis = notes("--set", "replicaCount=3", "--set", "stateStore.redis.enabled=true")
    assert "Shared group state: redis://rm-hero-reward-redis:6379/0" in with_redis
    assert "WARNING" not in with_redis


# --- the reward model on an engine (rmEngine) ---------------------------------------------------------------

VLLM = "vllm-engine-values.yaml"


def test_no_engine_by_default() -> None:
    docs = render()
    assert "HERO_RM_URL" not in env_of(server(docs))
    assert not [d for d in docs if d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "rm-engine"]


def test_the_charts_vllm_and_the_server_agree() -> None:
    docs = render(VLLM)
    engine = one(docs, "Deployment", rm_engine=True)
    svc = one(docs, "Service", rm_engine=True)
    spec = engine["spec"]["template"]["spec"]
    [vllm] = spec["containers"]
    args = vllm["args"]
    hero = server(docs)
    env = env_of(hero)

    def flag(name: str) -> str:
        return str(args[args.index(name) + 1])

    # URL and port: the server calls the Service, whose port targets the container's named port.
    [port] = svc["spec"]["ports"]
    assert env["HERO_RM_URL"]["value"] == f"http://{svc['metadata']['name']}:{port['port']}"
    assert port["targetPort"] == "http"
    assert {"name": "http", "containerPort": int(flag("--port")), "protocol": "TCP"} in vllm["ports"]
    assert set(svc["spec"]["selector"].items()) <= set(engine["spec"]["template"]["metadata"]["labels"].items())
    assert not set(one(docs, "Service")["spec"]["selector"].items()) <= set(
        engine["spec"]["template"]["metadata"]["labels"].items())
    # The model: vLLM loads what the server tokenizes with, served under that name.
    assert vllm["command"] == ["vllm", "serve"]
    assert args[0] == env["HERO_RM_MODEL"]["value"] == "nvidia/AceMath-72B-RM"
    assert "--served-model-name" not in args and "HERO_RM_SERVED_MODEL" not in env
    assert [flag("--runner"), flag("--convert")] == ["pooling", "classify"]
    assert flag("--tensor-parallel-size") == "4" and flag("--max-model-len") == "8192"
    assert "--trust-remote-code" in args and args[-2:] == ["--max-num-seqs", "512"]
    # Probes on vLLM's /health at the named port, with a startup budget for a 72B load.
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert vllm[kind]["httpGet"] == {"path": "/health", "port": "http"}
    startup = vllm["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 1800
    assert hero["readinessProbe"]["httpGet"]["path"] == "/ready"  # follows the engine's health
    # GPUs go to vLLM, none to the server.
    assert vllm["resources"]["limits"]["nvidia.com/gpu"] == 4
    assert not any("gpu" in k for k in hero["resources"].get("limits", {}))
    assert "tolerations" not in pod_spec(docs)
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == ["NVIDIA-H100-80GB-HBM3"]
    # Model cache and token, /dev/shm for tensor parallelism.
    mounts = {m["name"]: m["mountPath"] for m in vllm["volumeMounts"]}
    assert env_of(vllm)["HF_HOME"]["value"] == mounts["model-cache"]
    assert env_of(vllm)["HF_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "hf-token"
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["dshm"]["emptyDir"]["medium"] == "Memory"
    claim = one(docs, "PersistentVolumeClaim", rm_engine=True)
    assert volumes["model-cache"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "300Gi"


def test_an_existing_engine_is_referenced_not_created() -> None:
    docs = render("existing-engine-values.yaml")
    env = env_of(server(docs))
    assert env["HERO_RM_URL"]["value"] == "http://vllm-rm-0.inference:8000,http://vllm-rm-1.inference:8000"
    assert env["HERO_RM_SERVED_MODEL"]["value"] == "skywork-rm"
    assert not any(d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "rm-engine" for d in docs)
    assert not any("gpu" in k for k in server(docs)["resources"].get("limits", {}))


def test_engine_misconfigurations_fail_clearly() -> None:
    assert "config.rmModel" in helm_fails("--set", "rmEngine.vllm.enabled=true")
    assert "not both" in helm_fails("-f", str(CI_VALUES / VLLM), "--set", "rmEngine.url=http://x:8000")
    assert "tensorParallelSize" in helm_fails("-f", str(CI_VALUES / VLLM), "--set", "rmEngine.vllm.gpu.count=2")
    assert "/rmEngine/url" in helm_fails("--set", "config.rmModel=m", "--set", "rmEngine.url=vllm:8000")
