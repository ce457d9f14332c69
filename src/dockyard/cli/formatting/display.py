"""The small transformations docker's CLI applies to API values before printing them (formatter/displayutils.go
and the ps/images column helpers)."""

from __future__ import annotations

from dockyard.cli.formatting.tabwriter import display_width


def truncate_id(id_: str) -> str:
    """stringid.TruncateID: the first 12 hex digits, without the "sha256:" prefix."""
    return id_.partition(":")[2][:12] if ":" in id_ else id_[:12]


def ellipsis(text: str, max_width: int) -> str:
    """Cut `text` to `max_width` display columns, the last one an ellipsis (…): "echo hello world th…"."""
    if max_width <= 0:
        return ""
    if max_width == 1:
        return text[:1]
    if display_width(text) <= max_width:
        return text
    width = 0
    for i, c in enumerate(text):
        width += display_width(c)
        if width > max_width - 1:
            return text[:i] + "…"
    return text


def go_quote(text: str) -> str:
    """strconv.Quote, as ps shows COMMAND: "\\"sh -c 'sleep 1'\\""."""
    from dockyard.cli.gotemplate import quote

    return quote(text)  # fmt's %q of a string, without the formatter


def go_time(seconds: float) -> str:
    """Go's time.Unix(seconds, 0).String() in local time: "2026-11-23 14:48:45 +0000 UTC"."""
    import time

    local = time.localtime(int(seconds))
    zone = time.strftime("%Z", local)
    offset = time.strftime("%z", local)
    # Go prints the zone's abbreviation, or the offset again when the zone has no name.
    return time.strftime("%Y-%m-%d %H:%M:%S ", local) + offset + " " + (zone or offset)


def ago(seconds_since_epoch: float, now: float | None = None) -> str:
    """ "3 weeks ago", as RunningFor and CreatedSince print a creation time."""
    import time

    from dockyard.units import human_duration

    return human_duration((time.time() if now is None else now) - seconds_since_epoch) + " ago"


def join_labels(labels: dict[str, str] | None, sort: bool = True) -> str:
    """ "a=b,c=d": ps and images sort them; docker leaves networks and volumes in map order."""
    items = [f"{k}={v}" for k, v in (labels or {}).items()]
    return ",".join(sorted(items) if sort else items)


def displayable_ports(ports: list[dict]) -> str:
    """The PORTS column of docker ps: "0.0.0.0:8080->80/tcp, :::8080->80/tcp, 9000-9001/udp".

    Consecutive ports of one type (and address, when published to the same port
    number) collapse into ranges; published ports with another host port follow as
    HOST:PORT->PORT/TYPE, in the order of the sorted list.
    """
    groups: dict[str, list[int]] = {}
    result: list[str] = []
    host_mappings: list[str] = []
    for port in sorted(ports, key=_port_order):
        private = int(port.get("PrivatePort") or 0)
        public = int(port.get("PublicPort") or 0)
        kind = port.get("Type", "")
        ip = port.get("IP") or ""
        key = kind
        if ip:
            if public != private:
                host_mappings.append(f"{_join_host_port(ip, str(public))}->{private}/{kind}")
                continue
            key = f"{ip}/{kind}"
        group = groups.get(key)
        if group is None:
            groups[key] = [private, private]
        elif private == group[1] + 1:
            group[1] = private
        else:
            result.append(_form_group(key, *group))
            groups[key] = [private, private]
    result.extend(_form_group(key, *group) for key, group in groups.items())
    return ", ".join(result + host_mappings)


def _port_order(port: dict) -> tuple:
    # comparePorts: private port, then address (IPv4 before IPv6, numerically), public port, type.
    return (int(port.get("PrivatePort") or 0), _ip_order(port.get("IP") or ""), int(port.get("PublicPort") or 0),
            port.get("Type", ""))  # fmt: skip


def _ip_order(ip: str) -> tuple:
    if not ip:
        return (0, b"")
    import ipaddress

    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return (3, ip.encode())
    return (1 if address.version == 4 else 2, address.packed)


def _form_group(key: str, first: int, last: int) -> str:
    ip, _, kind = key.rpartition("/")
    group = str(first) if first == last else f"{first}-{last}"
    if ip:
        group = f"{_join_host_port(ip, group)}->{group}"
    return f"{group}/{kind}"


def _join_host_port(host: str, port: str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
