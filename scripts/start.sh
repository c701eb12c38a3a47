#!/usr/bin/env bash
# Set up (a venv with the pinned packages) and start the app at http://localhost:8501.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
exec .venv/bin/streamlit run app.py "$@"
