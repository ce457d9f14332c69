"""Legacy container links (--link target:alias): the environment docker gives the linking container.

moby's daemon/links: for a link to a container with address IP, as ALIAS (upper
case, "-" as "_"):

    ALIAS_NAME=/<linking container>/<alias>
    ALIAS_ENV_<KEY>=<value>           each of the target's environment but HOME and PATH
    ALIAS_PORT=<proto>://IP:<port>    the lowest exposed port of the target
    ALIAS_PORT_<port>_<PROTO>=<proto>://IP:<port>, and _ADDR, _PORT, _PROTO for each exposed port

The hosts entry of a link is etc_files'; on user networks the embedded DNS resolves links.
"""

from __future__ import annotations


def parse_link(link: str) -> tuple[str, str]:
    """A link as the API carries it, "/db:/web/alias", "db:alias" or "db": (target, alias)."""
    target, _, alias = link.partition(":")
    target = target.strip("/")
    return target, (alias.rstrip("/").rpartition("/")[2] or target)


def _ports(exposed: list[str]) -> list[tuple[int, str]]:
    found = []
    for key in exposed:
        number, _, proto = key.partition("/")
        if number.isdigit():
            found.append((int(number), (proto or "tcp").lower()))
    return sorted(set(found), key=lambda p: (p[0], p[1]))


def environment(alias: str, linking_name: str, address: str, exposed: list[str], target_env: list[str]) -> list[str]:
    prefix = alias.upper().replace("-", "_")
    env = [f"{prefix}_NAME=/{linking_name}/{alias}"]
    ports = _ports(exposed)
    if ports:
        port, proto = ports[0]
        env.append(f"{prefix}_PORT={proto}://{address}:{port}")
    for port, proto in ports:
        base = f"{prefix}_PORT_{port}_{proto.upper()}"
        env += [f"{base}={proto}://{address}:{port}", f"{base}_ADDR={address}", f"{base}_PORT={port}",
                f"{base}_PROTO={proto}"]  # fmt: skip
    for entry in target_env:
        key, sep, value = entry.partition("=")
        if sep and key not in ("HOME", "PATH"):
            env.append(f"{prefix}_ENV_{key}={value}")
    return env
