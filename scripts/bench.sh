#!/bin/sh
# make bench: figures with a reference run of an established tool in the same command.
set -eu
BIN=${1:-$(pwd)/.build/release}
# Speech quality (ITU-T P.862.2, PyPI's pesq, built from source) for the opus_complexity
# figures: only the benchmark needs it, so only the benchmark installs it.
python3 -c 'import pesq' 2>/dev/null || python3 -m pip install -q --root-user-action=ignore pesq >&2
exec python3 "$(dirname "$0")/bench.py" "$BIN"
