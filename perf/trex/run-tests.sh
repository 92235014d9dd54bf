#!/bin/bash
# The TRex profile tests (perf/trex/test_profiles.py) and the NDR/PDR search's unit
# tests, in a virtualenv of requirements.txt (made once, under target/).
#   perf/trex/run-tests.sh [pytest args]      VXGW=path/to/vxgw (default target/debug/vxgw)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
VENV=${TREX_VENV:-$ROOT/target/trex-venv}
if ! "$VENV/bin/python" -c 'import lbr_trex_client, pytest' 2>/dev/null \
    || ! cmp -s "$HERE/requirements.txt" "$VENV/requirements.txt"; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"
    cp "$HERE/requirements.txt" "$VENV/requirements.txt"
fi
cd "$HERE"
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning "$@" test_profiles.py test_ndr.py
