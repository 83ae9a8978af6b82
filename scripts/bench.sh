#!/bin/sh
# make bench: figures with a reference run of an established tool in the same command.
set -eu
BIN=${1:-$(pwd)/.build/release}
exec python3 "$(dirname "$0")/bench.py" "$BIN"
