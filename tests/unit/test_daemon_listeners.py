"""-H addresses, the TLS settings and the consent a plain TCP listener needs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.daemon import config, listeners
from dockyard.errors import InvalidParameter


@pytest.mark.parametrize(
    ("address", "tls", "expected"),
    [
        ("unix:///run/dy.sock", False, listeners.Listener("unix:///run/dy.sock", path="/run/dy.sock")),
        ("tcp://127.0.0.1:2376", True, listeners.Listener("tcp://127.0.0.1:2376", host="127.0.0.1", port=2376)),
        ("tcp://127.0.0.1", True, listeners.Listener("tcp://127.0.0.1", host="127.0.0.1", port=2376)),
        ("tcp://127.0.0.1", False, listeners.Listener("tcp://127.0.0.1", host="127.0.0.1", port=2375)),
        ("tcp://:4243", False, listeners.Listener("tcp://:4243", host="", port=4243)),
        ("tcp://[::1]:2376", True, listeners.Listener("tcp://[::1]:2376", host="::1", port=2376)),
        ("127.0.0.1:2376", True, listeners.Listener("127.0.0.1:2376", host="127.0.0.1", port=2376)),
    ],
)
def test_addresses_are_read_as_dockerd_reads_them(address, tls, expected):
    assert listeners.parse(address, tls=tls) == expected


@pytest.mark.parametrize("address", ["fd://", "unix://relative.sock", "tcp://127.0.0.1:99999", "tcp://h:port"])
def test_bad_addresses_are_refused(address):
    with pytest.raises(InvalidParameter, match="invalid host"):
        listeners.parse(address, tls=False)


@given(st.integers(min_value=1, max_value=65535))
def test_any_valid_port_is_kept(port):
    assert listeners.parse(f"tcp://10.0.0.1:{port}", tls=False).port == port


def test_plain_tcp_needs_consent(tmp_path):
    argv = ["--config-file", str(tmp_path / "none.json"), "-H", "tcp://127.0.0.1:2375"]
    with pytest.raises(InvalidParameter, match="--insecure-tcp"):
        config.load(argv)
    assert config.load([*argv, "--insecure-tcp"]).insecure_tcp


def test_tlsverify_implies_tls_and_certificates_default_to_the_cert_path(tmp_path, monkeypatch):
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path))
    loaded = config.load(["--config-file", str(tmp_path / "none.json"), "-H", "tcp://127.0.0.1:2376", "--tlsverify"])
    assert loaded.tls and loaded.tls_settings.ca_cert == str(tmp_path / "ca.pem")


def test_log_driver_and_options_come_from_flags_or_the_file(tmp_path):
    (tmp_path / "daemon.json").write_text('{"log-driver": "local", "log-opts": {"max-size": "1m"}}')
    loaded = config.load(["--config-file", str(tmp_path / "daemon.json")])
    assert (loaded.log_driver, loaded.log_opts) == ("local", {"max-size": "1m"})
    loaded = config.load(["--config-file", str(tmp_path / "no.json"), "--log-driver", "json-file",
                          "--log-opt", "max-file=2", "--log-opt", "compress=true"])  # fmt: skip
    assert loaded.log_opts == {"max-file": "2", "compress": "true"}
    with pytest.raises(InvalidParameter, match="both as a flag and in the configuration file: log-driver"):
        config.load(["--config-file", str(tmp_path / "daemon.json"), "--log-driver", "none"])
    with pytest.raises(InvalidParameter, match="no log driver named 'nope'"):
        config.load(["--config-file", str(tmp_path / "no.json"), "--log-driver", "nope"])
