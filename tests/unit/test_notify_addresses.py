"""A notification URL whose address can never be reached is refused where it enters: by
add and submit (tests/unit/test_cli_rejects_bad_input.py) and by the reader of every notify
file, however it was written. The URLs of each service as Apprise documents them pass."""

import pytest

from gpuagent.core.errors import InvalidInput
from gpuagent.host.delivery import check_address, read_notify_file

NEVER_REACHED = {
    "port beyond 65535": ("json://hooks.example.com:65536/x", "its port is beyond 65535"),
    "port of twenty digits": ("xml://hooks.example.com:99999999999999999999/x", "its port is beyond 65535"),
    "port 0": ("form://hooks.example.com:0/x", "its port is 0, which no server listens on"),
    "port not a number": ("jsons://hooks.example.com:https/x", "its port is not a number"),
    "negative port": ("json://hooks.example.com:-1/x", "its port is not a number"),
    "unclosed IPv6 bracket": ("json://[2001:db8::1/x", "its [ (an IPv6 address) is never closed"),
    "no host before the port": ("json://:8080/x", "it names no host"),
    "user but no host": ("mailto://me@:25", "it names no host"),
    "any service's port beyond 65535": ("ntfy://ntfy.example.com:70000/topic", "its port is beyond 65535"),
    "a ping's port beyond 65535": ("https://hc-ping.com:443443/uuid", "its port is beyond 65535"),
    "a ping with no host": ("https://:443/uuid", "it names no host"),
}
REACHABLE = [
    "json://hooks.example.com:8080/x",
    "json://[2001:db8::1]:8080/x",
    "jsons://hooks.example.com/x",
    "slack://T000/B000/XXXXXXXX",
    "discord://1234567890/abcdefghij",
    "ntfy://my-topic",
    "ntfys://ntfy.example.com:8443/topic",
    "mailto://user:pass:word@gmail.com",
    "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123",  # the bot token reads as host:port
    "https://hc-ping.com/0c3bf3f2-1c9b-4b9f-9ad0-8d1d2b5c8c11",
    "http://[::1]:8000/ping",
]


@pytest.mark.parametrize("case", NEVER_REACHED)
def test_an_address_no_send_can_reach_is_refused_without_showing_the_url(case):
    url, words = NEVER_REACHED[case]
    with pytest.raises(InvalidInput) as raised:
        check_address(url, "--notify")
    assert raised.value.message == f"--notify: {words}"
    assert url not in raised.value.message + (raised.value.hint or "")


@pytest.mark.parametrize("url", REACHABLE)
def test_the_services_urls_pass(url):
    assert check_address(url, "--notify") == url


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ('[[notify]]\nurl = "json://hooks.example.com:99999/x"\n', "notify[0].url: its port is beyond 65535"),
        ('[[notify]]\nurl = "slack://T/B/C"\n[[notify]]\nurl = "json://[::1/x"\n', "notify[1].url: its [ (an IPv6 address) is never closed"),
        ('ping = "https://hc-ping.com:http/uuid"\n', "ping: its port is not a number"),
    ],
)
def test_a_notify_file_written_by_hand_is_read_to_the_same_rules(tmp_path, document, where):
    """As each run reads it: the error names the file and the key (the run logs it and
    goes on; doctor says it), not the URL."""
    path = tmp_path / "nightly.toml"
    path.write_text(document)
    path.chmod(0o600)
    with pytest.raises(InvalidInput) as raised:
        read_notify_file(path, per_job=True)
    assert raised.value.message == f"{path}: {where}"
