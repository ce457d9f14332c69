#!/usr/bin/env bash
# Runs Dockyard's whole test suite (lint, unit, integration) after installing what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check src tests bench scripts
.venv/bin/ruff format --check src tests bench scripts
exec .venv/bin/python -m pytest -q "$@"
