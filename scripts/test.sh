#!/usr/bin/env bash
# Set up (a venv with the pinned packages) and run the whole test suite: unit, app, end-to-end.
# Usage: scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
exec .venv/bin/python -m pytest -q "$@"
