#!/usr/bin/env bash
# Quickstart: set up Dockyard, build a busybox bundle from Debian's busybox-static
# and run a container in it with dockyard-runtime; then start a `dockyard daemon` of its own
# and run a busybox container with the dockyard CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
venv=$PWD/.venv
bundle=/var/tmp/dockyard-quickstart
if [ ! -d "$bundle/rootfs" ]; then
  "$venv/bin/python" -c 'import sys; from dockyard.image.bootstrap import build_busybox_rootfs
build_busybox_rootfs(sys.argv[1] + "/rootfs", sys.argv[1] + "/cache")' "$bundle"
fi
cd "$bundle"
rm -f config.json
"$venv/bin/dockyard-runtime" spec
# A non-interactive command, so the quickstart also works without a terminal.
"$venv/bin/python" - <<'PY'
import json
config = json.load(open("config.json"))
config["process"]["terminal"] = False
config["process"]["args"] = ["sh", "-c", "echo hello from $(hostname), pid $$; ls /"]
json.dump(config, open("config.json", "w"), indent=2)
PY
"$venv/bin/dockyard-runtime" run "quickstart-$$"

# The engine: a daemon of the quickstart's own (data root, exec root and socket beside the bundle),
# a busybox image made from Debian's package, and a container run with the dockyard CLI.
engine=$bundle/engine
"$venv/bin/dockyard" bootstrap busybox --data-root "$engine/root" >/dev/null
"$venv/bin/dockyard" daemon -H "unix://$engine/dy.sock" --data-root "$engine/root" --exec-root "$engine/run" \
  --config-file "$engine/daemon.json" >"$engine/daemon.log" 2>&1 &
daemon=$!
trap 'kill $daemon; wait $daemon || true' EXIT
export DOCKYARD_HOST=unix://$engine/dy.sock
for _ in $(seq 300); do
  "$venv/bin/dockyard" version >/dev/null 2>&1 && break
  sleep 0.1
done
"$venv/bin/dockyard" run --rm busybox sh -c 'echo hello from $(hostname), through dockyard run'
