"""A Kubernetes export's hostPath types come from what each volume's host path is on the
exporting host, real files in a scratch tree: a single file is `File` (as `Directory` the
kubelet would never start the pod), a directory `Directory`, and a path with nothing
there (or a socket) "" (no check), so the pod starts with whatever the node has."""

import os
import socket

import yaml

from tests.support import kubecheck
from tests.support.agent import AgentHome
from tests.unit.test_export_spellings import IMAGE


def test_each_hostpath_type_is_what_the_host_path_is(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.yaml").write_text("lr: 0.1\n")
    (data / "link-to-file").symlink_to(data / "config.yaml")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(data / "agent.sock"))
    listener.close()
    wanted = {
        "/mnt/file": (data / "config.yaml", "File"),
        "/mnt/directory": (data, "Directory"),
        "/mnt/link": (data / "link-to-file", "File"),  # the kubelet follows it too
        "/mnt/missing": (tmp_path / "not-here", ""),
        "/mnt/socket": (data / "agent.sock", ""),
    }
    home = AgentHome(tmp_path / "home")
    home.write_job("learner", IMAGE, ["true"], volumes=[f"{host}:{container}" for container, (host, _) in wanted.items()])

    result = home.run("export", "kubernetes", "learner")

    assert result.returncode == 0, result.stderr
    [document] = yaml.safe_load_all(result.stdout)
    assert kubecheck.problems(document) == []
    pod = document["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume["hostPath"] for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in pod["containers"][0]["volumeMounts"]}
    assert {container: volumes[mounts[container]] for container in wanted} == {
        container: {"path": os.path.normpath(host), "type": kind} for container, (host, kind) in wanted.items()
    }
    assert f"{tmp_path / 'not-here'} is not a file or directory on this host: its hostPath checks nothing" in result.stderr
