#!/bin/sh
# make demo: a local Icecast fed by a generated MP3 source whose title changes, recorded for
# about 20 s into a fresh SQLite database under demo/; prints the JSON lines and a summary.
# Then the recorder's sync API serves it and sa-pull copies it into an embedded receiver store
# (demo/receiver) and into a private PostgreSQL, printing the JSON lines of each step; last,
# sa-export writes the sections to tmp/ and ffprobe reports each file's duration; a ten-second
# range is cut from the receiver's copy, and the receiver's podcast feed URL is printed.
set -eu
BIN=${1:-$(pwd)/.build/release}
ROOT=$(pwd)
DEMO=$ROOT/demo
PORT=${SA_DEMO_PORT:-18750}
ICE=$(mktemp -d /tmp/sa-demo-icecast.XXXXXX)
PG=$(mktemp -d /tmp/sa-demo-pg.XXXXXX)
API_PORT=${SA_DEMO_API_PORT:-18751}
PG_PORT=${SA_DEMO_PG_PORT:-18752}
RECV_PORT=${SA_DEMO_RECV_PORT:-18753}
SRC_PID=""
TITLE_PID=""
SERVE_PID=""
RECV_PID=""

cleanup() {
    [ -n "$RECV_PID" ] && kill "$RECV_PID" 2>/dev/null || true
    [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null || true
    sh "$ROOT/scripts/postgres.sh" stop "$PG" 2>/dev/null || true
    rm -rf "$PG"
    [ -n "$TITLE_PID" ] && kill "$TITLE_PID" 2>/dev/null || true
    [ -n "$SRC_PID" ] && kill "$SRC_PID" 2>/dev/null || true
    sh "$ROOT/scripts/icecast.sh" stop "$ICE"
    rm -rf "$ICE"
}
trap cleanup EXIT INT TERM

rm -rf "$DEMO"
mkdir -p "$DEMO"
echo "== starting Icecast on 127.0.0.1:$PORT" >&2
sh "$ROOT/scripts/icecast.sh" start "$ICE" "$PORT"
ffmpeg -v error -re -f lavfi -i "sine=frequency=440:sample_rate=44100" -ac 2 -c:a libmp3lame -b:a 128k \
    -content_type audio/mpeg -f mp3 "icecast://source:sourcepw@127.0.0.1:$PORT/demo.mp3" </dev/null &
SRC_PID=$!
i=0
until curl -s -m 1 -o /dev/null "http://127.0.0.1:$PORT/demo.mp3" 2>/dev/null || [ $i -gt 50 ]; do i=$((i + 1)); sleep 0.2; done

# Titles change every 6 seconds while recording.
(
    n=1
    while [ $n -le 4 ]; do
        curl -s -o /dev/null -u admin:adminpw \
            "http://127.0.0.1:$PORT/admin/metadata?mount=/demo.mp3&mode=updinfo&song=Demo+title+$n" || true
        n=$((n + 1))
        sleep 6
    done
) &
TITLE_PID=$!

echo "== recording http://127.0.0.1:$PORT/demo.mp3 for 20 s into $DEMO/demo_show.sqlite" >&2
"$BIN/sa-record" --url "http://127.0.0.1:$PORT/demo.mp3" --name demo_show --output-dir "$DEMO" \
    --duration 20s --split-interval 5 --min-free-mb 10 | tee "$DEMO/record.jsonl"

DB=$DEMO/demo_show.sqlite
echo "== summary of $DB" >&2
sqlite3 "$DB" <<SQL
.mode list
SELECT 'sections: ' || count(*) FROM sections;
SELECT 'segments: ' || count(*) || ', seconds: ' || printf('%.2f', sum(duration_samples) / 48000.0) ||
       ', bytes: ' || sum(length(audio_data)) FROM segments;
SELECT 'titles: ' || count(*) FROM titles;
SELECT '  ' || strftime('%H:%M:%S', timestamp_ms / 1000, 'unixepoch') || ' UTC  ' || title FROM titles ORDER BY id;
SQL

kill "$SRC_PID" 2>/dev/null || true
SRC_PID=""

echo "== serving $DEMO with the recorder sync API on 127.0.0.1:$API_PORT" >&2
cat > "$DEMO/record.toml" <<TOML
config_type = 'record'
output_dir = '.'
api_port = $API_PORT
TOML
"$BIN/sa-serve" --config "$DEMO/record.toml" &
SERVE_PID=$!
i=0
until curl -s -o /dev/null "http://127.0.0.1:$API_PORT/api/health" || [ $i -gt 100 ]; do i=$((i + 1)); sleep 0.1; done
curl -s "http://127.0.0.1:$API_PORT/api/sync/shows"
echo

echo "== sa-pull into the embedded receiver store $DEMO/receiver" >&2
cat > "$DEMO/receiver-sqlite.toml" <<TOML
config_type = 'receiver'
remote_url = 'http://127.0.0.1:$API_PORT'
[database]
url = 'sqlite:receiver'
TOML
"$BIN/sa-pull" --config "$DEMO/receiver-sqlite.toml" | tee "$DEMO/pull-sqlite.jsonl"

echo "== sa-pull into PostgreSQL (a private server on 127.0.0.1:$PG_PORT)" >&2
sh "$ROOT/scripts/postgres.sh" start "$PG" "$PG_PORT"
cat > "$DEMO/receiver.toml" <<TOML
config_type = 'receiver'
remote_url = 'http://127.0.0.1:$API_PORT'
[database]
url = 'postgres://postgres@127.0.0.1:$PG_PORT'
TOML
"$BIN/sa-pull" --config "$DEMO/receiver.toml" | tee "$DEMO/pull-postgres.jsonl"
echo "== a second pass has nothing new" >&2
"$BIN/save_audio_stream" receiver --config "$DEMO/receiver.toml" --sync-only
psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d save_audio_show_demo_show -At -c \
    "SELECT 'PostgreSQL save_audio_show_demo_show: ' || count(*) || ' segments, ' || sum(length(audio_data)) || ' bytes' FROM segments"

echo "== sa-export: the demo's sections as files in tmp/ (no re-encoding)" >&2
"$BIN/sa-export" --output-dir "$ROOT/tmp" < "$DEMO/record.jsonl" | tee "$DEMO/export.jsonl"
for f in $(sed -n 's/.*"file_path":"\([^"]*\)".*/\1/p' "$DEMO/export.jsonl"); do
    d=$(ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$f")
    echo "$f: $d s (ffprobe)"
done

START=$(sqlite3 "$DB" "SELECT min(start_timestamp_ms) FROM sections")
echo "== sa-export: ten seconds from 5 s after the start, cut from the receiver's copy (no re-encoding)" >&2
"$BIN/sa-export" --config "$DEMO/receiver.toml" --show demo_show --from $((START + 5000)) --to $((START + 15000)) \
    --output-dir "$ROOT/tmp" | tee "$DEMO/range.jsonl"
f=$(sed -n 's/.*"file_path":"\([^"]*\)".*/\1/p' "$DEMO/range.jsonl" | head -n1)
echo "$f: $(opusinfo "$f" | sed -n 's/^[[:space:]]*Playback length: //p') (opusinfo)"

echo "== the receiver's web player and podcast feed on 127.0.0.1:$RECV_PORT" >&2
sed "s/^remote_url/port = $RECV_PORT\nremote_url/" "$DEMO/receiver.toml" > "$DEMO/receiver-serve.toml"
"$BIN/sa-serve" --config "$DEMO/receiver-serve.toml" > "$DEMO/receiver-serve.jsonl" &
RECV_PID=$!
i=0
until curl -s -o /dev/null "http://127.0.0.1:$RECV_PORT/api/health" || [ $i -gt 100 ]; do i=$((i + 1)); sleep 0.1; done
FEED="http://127.0.0.1:$RECV_PORT/feeds/demo_show.xml"
curl -s "$FEED" | sed -n '/<item>/,/<\/item>/{s:.*<title>\(.*\)</title>.*:  item\: \1:p; s:.*<enclosure url="\([^"]*\)".*:  enclosure\: \1:p;}' \
    | sed 's/&amp;/\&/g'
echo "web player: http://127.0.0.1:$RECV_PORT/"
echo "podcast feed: $FEED"
