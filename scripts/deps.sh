#!/bin/sh
# Install the Debian packages the build, the tests, the demo and the benchmark need.
# Does nothing when all are present. libfdk-aac lives in Debian's non-free component:
# it is fetched through a private apt sources list, derived from the machine's own
# (scripts/apt-sources.sh), so the system's list is never edited.
set -eu

BUILD_PKGS="pkg-config libsqlite3-dev libpq-dev libcurl4-openssl-dev libssh2-1-dev libssl-dev \
libopus-dev libogg-dev libmpg123-dev libfaad-dev libsoxr-dev libfdk-aac-dev"
TEST_PKGS="sqlite3 ffmpeg opus-tools icecast2 lame fdkaac curl procps python3 python3-pytest \
postgresql postgresql-client openssh-server chromium wrk nginx openssl prometheus espeak-ng mandoc \
python3-feedparser"

missing=""
for p in $BUILD_PKGS $TEST_PKGS; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
        *" installed") ;;
        *) missing="$missing $p" ;;
    esac
done
# pytest may come from pip instead of Debian; either satisfies the tests.
case "$missing" in
    *python3-pytest*)
        if python3 -c 'import pytest' 2>/dev/null; then
            missing=$(echo "$missing" | sed 's/ python3-pytest//')
        fi ;;
esac

# The browser tests drive Debian's Chromium with Playwright for Python (from PyPI; it never
# downloads a browser of its own here).
pip_missing=""
python3 -c 'import playwright' 2>/dev/null || pip_missing="playwright==1.65.2"
python3 -c 'import openapi_spec_validator' 2>/dev/null || pip_missing="$pip_missing openapi-spec-validator"
# HTTP fuzzing generated from the OpenAPI document.
command -v st >/dev/null 2>&1 || pip_missing="$pip_missing schemathesis"

if [ -z "$(echo $missing)" ] && [ -z "$(echo $pip_missing)" ]; then exit 0; fi
if [ -z "$(echo $missing)" ]; then
    echo "deps: installing $pip_missing (PyPI)" >&2
    python3 -m pip install -q --root-user-action=ignore $pip_missing >&2
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages:$missing" >&2
    echo "deps: run 'sudo make deps' (or install them with apt-get) and try again" >&2
    exit 1
fi

echo "deps: installing$missing" >&2
APT_DIR=${SA_APT_DIR:-/var/cache/save_audio_stream-apt}
mkdir -p "$APT_DIR/lists/partial"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
CODENAME=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
# The machine's own Debian archives (its mirror or proxy) with contrib and non-free added;
# Debian's own hosts only when none is configured.
sh "$(dirname "$0")/apt-sources.sh" "$CODENAME" "$KEYRING" > "$APT_DIR/sources.list"
if [ ! -s "$APT_DIR/sources.list" ]; then
    cat > "$APT_DIR/sources.list" <<LIST
deb [signed-by=$KEYRING] http://deb.debian.org/debian $CODENAME main contrib non-free
deb [signed-by=$KEYRING] http://deb.debian.org/debian $CODENAME-updates main contrib non-free
deb [signed-by=$KEYRING] http://deb.debian.org/debian-security $CODENAME-security main contrib non-free
LIST
fi
APT_OPTS="-o Dir::Etc::SourceList=$APT_DIR/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$APT_DIR/lists"
# Refresh the private lists at most once a day.
if [ -z "$(find "$APT_DIR/lists" -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -n1)" ]; then
    apt-get $APT_OPTS -qq update >&2
fi
DEBIAN_FRONTEND=noninteractive apt-get $APT_OPTS -y -qq --no-install-recommends install $missing >&2

if [ -n "$pip_missing" ]; then
    echo "deps: installing $pip_missing (PyPI)" >&2
    python3 -m pip install -q --root-user-action=ignore $pip_missing >&2
fi
