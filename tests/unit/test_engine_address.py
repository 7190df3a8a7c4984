"""host/dockerd.py's engine_address: where DOCKER_HOST says dockerd is, as the docker CLI
reads it; an address gpuagent cannot use is one clear error."""

import pytest

from gpuagent.core.errors import DockerError
from gpuagent.host.dockerd import Docker, answers, engine_address


def test_the_default_is_the_usual_unix_socket(monkeypatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    assert engine_address().unix_path == "/var/run/docker.sock"
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/user/1000/docker.sock")
    assert engine_address().unix_path == "/run/user/1000/docker.sock"
    assert str(engine_address()) == "unix:///run/user/1000/docker.sock", "how errors name it"


def test_a_tcp_address_is_a_host_and_port_over_tls_only_when_asked(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.0.0.5:2375")
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    address = engine_address()
    assert (address.unix_path, address.host, address.port, address.tls) == (None, "10.0.0.5", 2375, None)
    assert str(address) == "tcp://10.0.0.5:2375"
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path))
    with pytest.raises(DockerError, match=f"cannot read docker's TLS certificates in {tmp_path}"):
        engine_address()


@pytest.mark.parametrize("docker_host", ["ssh://me@gpu-box", "tcp://gpu-box", "tcp://gpu-box:port", "npipe:////./pipe/docker_engine"])
def test_an_address_gpuagent_cannot_use_is_one_clear_error(monkeypatch, docker_host):
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    with pytest.raises(DockerError, match=f"DOCKER_HOST={docker_host} is not a unix:// socket or a tcp://HOST:PORT address"):
        Docker()


def test_a_socket_nobody_listens_on_is_unreachable_not_a_traceback(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    with pytest.raises(DockerError, match=f"docker is unreachable at unix://{tmp_path}/docker.sock: .*No such file or directory"):
        Docker()
    assert not answers(timeout=0.5)
