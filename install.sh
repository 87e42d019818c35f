#!/usr/bin/env bash
# Install monai-weakloc, its first-party plugins and the test tools into a virtual environment.
#   bash install.sh            # creates ./.venv
#   VENV=/path/to/env bash install.sh
# PyTorch is installed first and pinned (its CPU build); every other version comes from constraints.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip_install() { "$VENV/bin/python" -m pip install --disable-pip-version-check -q "$@"; }
pip_install --upgrade pip "setuptools>=68"
pip_install torch==2.13.0
pip_install -c constraints.txt -e ".[test]" \
  -e plugins/weakloc_networks -e plugins/weakloc_metrics -e plugins/weakloc_samplers
echo "installed into $VENV: activate with 'source $VENV/bin/activate'"
