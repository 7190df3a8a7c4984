"""A real Kubernetes control plane for the export tests' COMPATIBILITY check: etcd,
kube-apiserver and kube-controller-manager 1.20.2, on 127.0.0.1 and free ports.

1.20 is the newest Kubernetes server whose source a package registry this project may use
holds: Debian's kubernetes source package is the full tree up to bookworm's
1.20.5+really1.20.2, and from 1.31.4+ds (trixie, sid) it is repacked to kubectl alone, so
no kube-apiserver 1.27+ (where CronJob spec.timeZone is GA) can be built here. What users
get is batch/v1 with timeZone and podFailurePolicy; the server gets it through
for_kubernetes_1_20, as batch/v1beta1 without those two, and nothing else changed. The
manifest as shipped is held to kubernetes-validate's strict schemas of current
Kubernetes instead.

    with KubeCluster(tmp_dir) as cluster:
        cluster.create(manifest, dry_run=True)     # the server's own validation
        cluster.create(manifest)
        job = cluster.wait_for_job_of("nightly")   # made by the real CronJob controller

The binaries come from tests/kube/build.sh (built once per machine, about 6 minutes); etcd
from Debian's etcd-server. There is no scheduler and no kubelet: the CronJob controller
makes Jobs and the Job controller makes Pods, which stay Pending, which is all a test of a
manifest needs. The API server authenticates one static bearer token and allows it
everything. The three daemons are stopped by their PIDs.

The REST client is urllib: the server's certificate is the self-signed one it makes for
itself, so TLS is not verified, and no proxy from the environment may see 127.0.0.1.
"""

from __future__ import annotations

import copy
import json
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from tests.support.cache import REPO
from tests.support.processes import stop_process

BUILD_SCRIPT = REPO / "tests/kube/build.sh"
TOKEN = "gpuagent-test-token"
NAMESPACE = "default"
_BUILD_TIMEOUT = 1800.0
_READY_TIMEOUT = 60.0
_START_ATTEMPTS = 3  # a free port can be taken between choosing it and binding it

_TLS = ssl.create_default_context()
_TLS.check_hostname = False
_TLS.verify_mode = ssl.CERT_NONE
_HTTPS = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=_TLS))


class KubeRefused(Exception):
    """The API server answered 4xx or 5xx; `message` is its Status.message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.message = status, message


def kubernetes_binaries() -> Path:
    """The directory of kube-apiserver and kube-controller-manager, built when missing."""
    done = subprocess.run([str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=_BUILD_TIMEOUT)
    if done.returncode != 0:
        raise AssertionError(f"{BUILD_SCRIPT.name} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


# What for_kubernetes_1_20 changes of a CronJob, as paths: no server here checks these.
REWRITTEN = ("apiVersion", "spec.timeZone", "spec.jobTemplate.spec.podFailurePolicy")


def for_kubernetes_1_20(document: dict) -> dict:
    """`document` as the 1.20 API server under test takes it: the compatibility check's
    rewrite, and the part of the manifest no server here sees.

    The exporter writes for current Kubernetes, but the only server that can be built
    here is 1.20 (see above): it serves CronJob only as batch/v1beta1 (batch/v1 is 1.21),
    and knows neither spec.timeZone (1.24) nor the Job's podFailurePolicy (1.25), whose
    fields it would drop or refuse. Everything else of the job template is the same in
    both, so what the server checks and what its controllers make of it still tests the
    export; REWRITTEN names what this takes away, and a test holds it to that.
    """
    document = copy.deepcopy(document)
    if document.get("kind") == "CronJob" and document.get("apiVersion") == "batch/v1":
        document["apiVersion"] = "batch/v1beta1"
        spec = document.get("spec", {})
        spec.pop("timeZone", None)
        spec.get("jobTemplate", {}).get("spec", {}).pop("podFailurePolicy", None)
    return document


def _free_ports(count: int) -> list[int]:
    """`count` distinct ports that nothing on 127.0.0.1 listens on now."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class _Daemon:
    """One process with its log in a file, stopped by its PID."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.name, self.log = Path(args[0]).name, log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def exited(self) -> bool:
        return self.process.poll() is not None

    def log_tail(self, lines: int = 15) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 15.0) -> None:
        stop_process(self.process, timeout)


class _PortTaken(Exception):
    pass


class KubeCluster:
    """etcd, kube-apiserver and kube-controller-manager with their files under `root`."""

    def __init__(self, root: Path, binaries: Path | None = None) -> None:
        self.root = root
        self.binaries = binaries
        self.daemons: list[_Daemon] = []
        self.server = ""

    def __enter__(self) -> KubeCluster:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.stop()

    # --- the daemons ---------------------------------------------------------------

    def start(self) -> None:
        """Start all three and wait until the API server is ready and its default
        namespace exists, and the controller manager answers."""
        self.binaries = self.binaries or kubernetes_binaries()
        self.root.mkdir(parents=True, exist_ok=True)
        self._write_credentials()
        for attempt in range(1, _START_ATTEMPTS + 1):
            try:
                self._start_once()
                break
            except _PortTaken:
                self.stop()
                if attempt == _START_ATTEMPTS:
                    raise AssertionError(f"no free ports for the cluster after {attempt} attempts") from None

    def stop(self) -> None:
        """Stop the daemons, the newest first, each by its PID."""
        while self.daemons:
            self.daemons.pop().stop()

    def _write_credentials(self) -> None:
        key, public = self.root / "sa.key", self.root / "sa.pub"
        if not public.exists():
            subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
            subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-out", str(public)], check=True, capture_output=True)
        (self.root / "tokens.csv").write_text(f'{TOKEN},admin,1,"system:masters"\n')

    def _start_once(self) -> None:
        client, peer, metrics, api, controllers = _free_ports(5)
        etcd_data = self.root / "etcd"
        self._spawn(
            "etcd",
            "/usr/bin/etcd",
            "--name=test",
            f"--data-dir={etcd_data}",
            f"--listen-client-urls=http://127.0.0.1:{client}",
            f"--advertise-client-urls=http://127.0.0.1:{client}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=test=http://127.0.0.1:{peer}",
            f"--listen-metrics-urls=http://127.0.0.1:{metrics}",
        )
        self._spawn(
            "kube-apiserver",
            str(self.binaries / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{client}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={api}",
            "--insecure-port=0",
            f"--cert-dir={self.root / 'certs'}",
            f"--token-auth-file={self.root / 'tokens.csv'}",
            "--authorization-mode=AlwaysAllow",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-signing-key-file={self.root / 'sa.key'}",
            f"--service-account-key-file={self.root / 'sa.pub'}",
            # only an allocation range: nothing listens there, nothing is sent there
            "--service-cluster-ip-range=10.0.0.0/24",
            "--disable-admission-plugins=ServiceAccount",
        )
        self.server = f"https://127.0.0.1:{api}"
        self._wait(lambda: self._ready("/readyz"), "the API server's /readyz")
        self._wait(lambda: self._ready(f"/api/v1/namespaces/{NAMESPACE}"), f"namespace {NAMESPACE}")
        kubeconfig = self.root / "kubeconfig"
        kubeconfig.write_text(json.dumps(self._kubeconfig()))
        self._spawn(
            "kube-controller-manager",
            str(self.binaries / "kube-controller-manager"),
            f"--kubeconfig={kubeconfig}",
            "--controllers=cronjob,job,garbagecollector",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={controllers}",
            "--port=0",
            "--feature-gates=CronJobControllerV2=true",
        )
        self._wait(lambda: _status_of(f"https://127.0.0.1:{controllers}/healthz") == 200, "the controller manager's /healthz")

    def _kubeconfig(self) -> dict:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "test", "cluster": {"server": self.server, "insecure-skip-tls-verify": True}}],
            "users": [{"name": "admin", "user": {"token": TOKEN}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "admin"}}],
            "current-context": "test",
        }

    def _spawn(self, name: str, *args: str) -> None:
        self.daemons.append(_Daemon(list(args), self.root / f"{name}.log"))

    def _wait(self, ready, what: str) -> None:
        """Until `ready()`; fails with the logs of a daemon that exited meanwhile."""
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            for daemon in self.daemons:
                if daemon.exited():
                    tail = daemon.log_tail()
                    if "address already in use" in tail:
                        raise _PortTaken()
                    self.stop()
                    raise AssertionError(f"{daemon.name} exited while waiting for {what}; its log:\n{tail}")
            if ready():
                return
            time.sleep(0.1)
        logs = "\n".join(f"--- {d.name}\n{d.log_tail()}" for d in self.daemons)
        self.stop()
        raise AssertionError(f"timed out after {_READY_TIMEOUT:.0f}s waiting for {what}; the logs:\n{logs}")

    def _ready(self, path: str) -> bool:
        return _status_of(self.server + path, TOKEN) == 200

    # --- REST ------------------------------------------------------------------------

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        """The parsed answer of the API server; raises KubeRefused on an error status."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.server + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {TOKEN}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with _HTTPS.open(request, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            raise KubeRefused(err.code, _message_of(err.read())) from None

    def create(self, document: dict, namespace: str = NAMESPACE, dry_run: bool = False) -> dict:
        """POST `document`; with dry_run the server validates and admits it, stores nothing."""
        query = "?dryRun=All" if dry_run else ""
        return self.request("POST", collection_path(document["apiVersion"], document["kind"], namespace) + query, document)

    def create_namespace(self, name: str) -> None:
        """A namespace of its own, e.g. for dry runs of objects that exist in the default one
        (a dry-run create of an existing name is refused as a conflict)."""
        self.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def get(self, api_version: str, kind: str, name: str, namespace: str = NAMESPACE) -> dict:
        return self.request("GET", f"{collection_path(api_version, kind, namespace)}/{name}")

    def list(self, api_version: str, kind: str, namespace: str = NAMESPACE) -> list[dict]:
        return self.request("GET", collection_path(api_version, kind, namespace))["items"]

    def jobs_of(self, cronjob: str, namespace: str = NAMESPACE) -> list[dict]:
        """The Jobs the CronJob controller made for the CronJob named `cronjob`."""
        return [
            job
            for job in self.list("batch/v1", "Job", namespace)
            if any(owner.get("kind") == "CronJob" and owner.get("name") == cronjob for owner in job["metadata"].get("ownerReferences", []))
        ]

    def wait_for_job_of(self, cronjob: str, timeout: float = 75.0, namespace: str = NAMESPACE) -> dict:
        """The first Job of `cronjob`: a CronJob of "* * * * *" fires at the next minute."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            jobs = self.jobs_of(cronjob, namespace)
            if jobs:
                return jobs[0]
            time.sleep(1.0)
        raise AssertionError(f"the CronJob controller made no Job of {cronjob} within {timeout:.0f}s")


def collection_path(api_version: str, kind: str, namespace: str) -> str:
    """The REST path of the namespaced collection of `kind` (Secret, Job, CronJob, Pod:
    the resource is the kind in lower case plus "s" for all the kinds the tests use)."""
    group = "/api" if "/" not in api_version else "/apis"
    return f"{group}/{api_version}/namespaces/{namespace}/{kind.lower()}s"


def _message_of(body: bytes) -> str:
    try:
        return json.loads(body).get("message", "")
    except ValueError:
        return body.decode(errors="replace")


def _status_of(url: str, token: str | None = None) -> int | None:
    """The HTTP status of a GET, None while nothing answers."""
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with _HTTPS.open(request, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code
    except (urllib.error.URLError, OSError):
        return None
