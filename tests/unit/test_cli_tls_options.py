"""How `dockyard` reads docker's TLS flags and environment into the options it connects with."""

from __future__ import annotations

from dockyard.cli import dispatch, flags, tls


def _options(argv: list[str], environ: dict[str, str]):
    parsed, _ = flags.parse(dispatch.GLOBAL, [*argv, "ps"])
    return tls.options(parsed, environ)


def test_no_tls_unless_asked(tmp_path):
    assert _options([], {"DOCKER_CERT_PATH": str(tmp_path)}) is None
    assert _options([], {"DOCKER_TLS_VERIFY": ""}) is None


def test_docker_tls_verify_uses_the_files_in_docker_cert_path(tmp_path):
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("")
    chosen = _options([], {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)})
    assert (chosen.verify, chosen.ca, chosen.cert, chosen.key) == (
        True, str(tmp_path / "ca.pem"), str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"),
    )  # fmt: skip


def test_default_files_that_do_not_exist_are_left_out_and_flags_win(tmp_path):
    (tmp_path / "ca.pem").write_text("")
    chosen = _options(["--tls", "--tlscert", "/x/c.pem"], {"DOCKER_CERT_PATH": str(tmp_path)})
    assert (chosen.verify, chosen.ca, chosen.cert, chosen.key) == (False, str(tmp_path / "ca.pem"), "/x/c.pem", None)


def test_any_tlsverify_on_the_command_line_turns_tls_on(tmp_path):
    chosen = _options(["--tlsverify=false"], {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)})
    assert chosen is not None and chosen.verify is False
