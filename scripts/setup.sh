#!/usr/bin/env bash
# Installs everything Dockyard and its tests need on a Debian 12 machine, as root:
# system packages from apt, then a virtualenv in .venv with Dockyard and its test
# dependencies. Safe to run again; it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "scripts/setup.sh: run as root (containers need it)" >&2
  exit 1
fi

packages=(python3 python3-venv python3-pip busybox-static debootstrap runc skopeo procps iproute2 util-linux dpkg tmux
  nftables dnsmasq-base  # dnsmasq: the peer of bench/dns.py (no service, only the binary)
  gcc python3-dev  # pip install builds kernel/_native.c, the C extension of kernel/libc.py
  tini  # tini-static: what --init runs as the container's PID 1 (docker's docker-init)
  iperf3)  # the sender and receiver of bench/bridge_tuning.py (its service is not enabled by default)
# docker.io (dockerd 20.10) is the real engine the tests compare with; they start a private
# dockerd of their own (tests/support/dockerd.py). Its recommends (apparmor, cgroupfs-mount,
# needrestart, criu, git) are left out: needrestart hooks every later apt run and
# cgroupfs-mount would mount cgroup hierarchies at boot. Its postinst (and containerd's)
# starts the system service only under a real init: with systemd as PID 1 that would be
# docker.service with docker0 and iptables rules; on our machines invoke-rc.d finds no
# runlevel and starts nothing.
bare_packages=(docker.io)
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done
missing_bare=()
for p in "${bare_packages[@]}"; do
  installed "$p" || missing_bare+=("$p")
done
# apt-get download (used to fetch busybox-static for test images) needs package lists.
if [ ${#missing[@]} -gt 0 ] || [ ${#missing_bare[@]} -gt 0 ] ||
  [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ]; then
  apt-get update -qq
fi
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ${#missing_bare[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing_bare[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "scripts/setup.sh: Python 3.11 or newer is needed ($python is $("$python" --version))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
# Start-up time is benchmarked: make sure bytecode exists even where
# PYTHONDONTWRITEBYTECODE is set.
.venv/bin/python -m compileall -q src

# Both launchers' start-up is benchmarked (`dockyard-runtime run` against runc, `dockyard ps`
# against the docker CLI: docs/benchmarks.md): they run Python with -S, which skips the site
# module and its .pth files (≈ 2 ms of each start). pip drops flags from a #! line, so they are
# added here; without site the launcher itself puts Dockyard's package directory on sys.path.
# The runtime and the CLI's client commands import nothing outside it and the standard library;
# `dockyard daemon` and `dockyard bootstrap` run site themselves for their third-party packages
# (dockyard.cli.main). Runs after every pip install, which rewrites the launchers.
package_dir=$(.venv/bin/python -c 'import dockyard, os; print(os.path.dirname(os.path.dirname(dockyard.__file__)))')
for launcher in .venv/bin/dockyard-runtime .venv/bin/dockyard; do
  if ! head -n 1 "$launcher" | grep -q -- ' -S$'; then
    sed -i -e '1s/$/ -S/' -e "1a import sys; sys.path.append('$package_dir')  # -S: site did not add it" "$launcher"
  fi
done
