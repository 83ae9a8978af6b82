#!/bin/sh
# Prints apt source lines (one-line format) for the machine's own Debian archives with the
# contrib and non-free components added, so libfdk-aac (non-free) comes from the same mirror or
# proxy the machine is configured for. Reads /etc/apt/sources.list and the *.list and
# *.sources files beside it; an entry counts when it is enabled, of type deb, has the main
# component and a suite of this release (CODENAME, CODENAME-updates, CODENAME-security).
# Prints nothing when there is none.
#   apt-sources.sh CODENAME DEFAULT_KEYRING
set -eu
codename=$1 keyring=$2
dir=${SA_APT_ETC:-/etc/apt}
{
    for f in "$dir/sources.list" "$dir"/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        # deb [options] uri suite component...
        awk '$1 == "deb" {
            opts = ""; i = 2
            if ($2 ~ /^\[/) { while ($i !~ /\]$/) { opts = opts " " $i; i++ } opts = opts " " $i; i++ }
            uri = $i; suite = $(i + 1); main = 0
            for (j = i + 2; j <= NF; j++) if ($j == "main") main = 1
            signed = ""
            if (match(opts, /signed-by=[^] ]+/)) signed = substr(opts, RSTART + 10, RLENGTH - 10)
            if (main) print uri, suite, signed
        }' "$f"
    done
    for f in "$dir"/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # deb822 paragraphs: Types, URIs, Suites, Components, Signed-By, Enabled
        awk 'function flush() {
                if (types ~ /(^| )deb( |$)/ && comps ~ /(^| )main( |$)/ && enabled != "no") {
                    n = split(uris, u, " "); m = split(suites, s, " ")
                    for (a = 1; a <= n; a++) for (b = 1; b <= m; b++) print u[a], s[b], signed
                }
                types = uris = suites = comps = signed = ""; enabled = "yes"
            }
            BEGIN { enabled = "yes" }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); next }
            {
                key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "", $0)
                if (key == "types") types = $0
                else if (key == "uris") uris = $0
                else if (key == "suites") suites = $0
                else if (key == "components") comps = $0
                else if (key == "signed-by") signed = $0
                else if (key == "enabled") enabled = tolower($0)
            }
            END { flush() }' "$f"
    done
} | while read -r uri suite signed; do
    case "$suite" in
        "$codename"|"$codename"-updates|"$codename"-security) ;;
        *) continue ;;
    esac
    echo "deb [signed-by=${signed:-$keyring}] $uri $suite main contrib non-free"
done | sort -u
