"""Legacy links: the names they take apart and the environment docker gives the linking container."""

from __future__ import annotations

from dockyard.network import links


def test_links_name_target_and_alias():
    assert links.parse_link("/db:/web/database") == ("db", "database")
    assert links.parse_link("db:database") == ("db", "database")
    assert links.parse_link("db") == ("db", "db")


def test_the_environment_of_a_link_is_dockers():
    env = links.environment("my-db", "web", "172.17.0.5", ["6379/tcp", "53/udp"],
                            ["PATH=/bin", "HOME=/root", "FOO=1", "EMPTY="])  # fmt: skip
    assert env == [
        "MY_DB_NAME=/web/my-db",
        "MY_DB_PORT=udp://172.17.0.5:53",
        "MY_DB_PORT_53_UDP=udp://172.17.0.5:53",
        "MY_DB_PORT_53_UDP_ADDR=172.17.0.5",
        "MY_DB_PORT_53_UDP_PORT=53",
        "MY_DB_PORT_53_UDP_PROTO=udp",
        "MY_DB_PORT_6379_TCP=tcp://172.17.0.5:6379",
        "MY_DB_PORT_6379_TCP_ADDR=172.17.0.5",
        "MY_DB_PORT_6379_TCP_PORT=6379",
        "MY_DB_PORT_6379_TCP_PROTO=tcp",
        "MY_DB_ENV_FOO=1",
        "MY_DB_ENV_EMPTY=",
    ]


def test_a_target_without_ports_gives_name_and_environment_only():
    assert links.environment("db", "web", "172.17.0.5", [], ["A=b"]) == ["DB_NAME=/web/db", "DB_ENV_A=b"]
