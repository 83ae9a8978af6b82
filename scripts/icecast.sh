#!/bin/sh
# Start or stop a private Icecast on loopback, for the tests and the demo.
#   icecast.sh start DIR PORT   config, logs and pid under DIR; waits until it answers
#   icecast.sh stop DIR
# SA_ICECAST_BURST_SIZE sets the burst sent to a new listener (default 65535 bytes, Icecast's
# own default; 0 turns the burst off). SA_ICECAST_CLIENTS sets the listener limit (default 100).
# SA_ICECAST_METAINT sets the ICY metadata interval of every mount in bytes (default Icecast's 16000).
# Passwords: source "sourcepw", admin user "admin" / "adminpw" (loopback only).
set -eu
cmd=$1 dir=$2
case "$cmd" in
start)
    port=$3
    burst=${SA_ICECAST_BURST_SIZE:-65535}
    clients=${SA_ICECAST_CLIENTS:-100}
    mounts=""
    if [ -n "${SA_ICECAST_METAINT:-}" ]; then
        mounts="<mount type=\"default\"><mp3-metadata-interval>$SA_ICECAST_METAINT</mp3-metadata-interval></mount>"
    fi
    if [ "$burst" = 0 ]; then burst_on=0; else burst_on=1; fi
    mkdir -p "$dir/log"
    chmod 755 "$dir"
    if [ "$(id -u)" = 0 ]; then
        chown icecast2 "$dir/log" 2>/dev/null || chown nobody "$dir/log"
        run="runuser -u icecast2 --"
        id icecast2 >/dev/null 2>&1 || run="runuser -u nobody --"
    else
        run=""
    fi
    cat > "$dir/icecast.xml" <<XML
<icecast>
  <limits><clients>$clients</clients><sources>10</sources><queue-size>524288</queue-size>
    <client-timeout>30</client-timeout><header-timeout>15</header-timeout><source-timeout>5</source-timeout>
    <burst-on-connect>$burst_on</burst-on-connect><burst-size>$burst</burst-size></limits>
  <authentication><source-password>sourcepw</source-password>
    <admin-user>admin</admin-user><admin-password>adminpw</admin-password></authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>$port</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <fileserve>1</fileserve>
  <paths><basedir>/usr/share/icecast2</basedir><logdir>$dir/log</logdir>
    <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot></paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>2</loglevel></logging>
  <security><chroot>0</chroot></security>
  $mounts
</icecast>
XML
    chmod 644 "$dir/icecast.xml"
    $run icecast2 -c "$dir/icecast.xml" >"$dir/icecast.out" 2>&1 &
    echo $! > "$dir/icecast.pid"
    i=0
    while ! curl -s -o /dev/null "http://127.0.0.1:$port/status-json.xsl"; do
        i=$((i + 1))
        if [ $i -gt 50 ]; then
            echo "icecast did not start; see $dir/log/error.log and $dir/icecast.out" >&2
            cat "$dir/icecast.out" >&2 || true
            exit 1
        fi
        sleep 0.1
    done
    ;;
stop)
    if [ -f "$dir/icecast.pid" ]; then
        pid=$(cat "$dir/icecast.pid")
        # runuser forwards the signal to icecast2.
        kill "$pid" 2>/dev/null || true
        pkill -f "icecast2 -c $dir/icecast.xml" 2>/dev/null || true
        rm -f "$dir/icecast.pid"
    fi
    ;;
*) echo "usage: icecast.sh start DIR PORT | stop DIR" >&2; exit 64 ;;
esac
