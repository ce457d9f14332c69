#!/usr/bin/env bash
# Quickstart: set up Dockyard, build a busybox bundle from Debian's busybox-static
# and run a container in it with dockyard-runtime.
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
exec "$venv/bin/dockyard-runtime" run "quickstart-$$"
