#!/bin/sh
# Start or stop a private OpenSSH server (SFTP only) on loopback, for the tests.
#   sshd.sh start DIR PORT USER   config, host key, pid and log under DIR; USER's home DIR/home
#   sshd.sh stop DIR
# Key and password authentication both work; the user is created when missing (root only).
set -eu
cmd=$1 dir=$2
case "$cmd" in
start)
    port=$3 user=$4
    [ "$(id -u)" = 0 ] || { echo "sshd.sh: must run as root" >&2; exit 77; }
    mkdir -p "$dir/home" /run/sshd
    chmod 755 "$dir"
    if ! id "$user" >/dev/null 2>&1; then
        useradd --home-dir "$dir/home" --shell /bin/sh --no-create-home "$user"
    fi
    usermod --home "$dir/home" "$user" >/dev/null 2>&1 || true
    # A fresh useradd account is locked ('!'), which makes sshd refuse even keys.
    usermod -p '*' "$user"
    chown "$user" "$dir/home"
    [ -f "$dir/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$dir/host_ed25519"
    touch "$dir/authorized_keys"
    chmod 644 "$dir/authorized_keys"
    cat > "$dir/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $dir/host_ed25519
PidFile $dir/sshd.pid
UsePAM no
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
AuthorizedKeysFile $dir/authorized_keys
AllowUsers $user
Subsystem sftp internal-sftp
ForceCommand internal-sftp
LogLevel ERROR
CONF
    /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
    i=0
    while ! ssh-keyscan -p "$port" 127.0.0.1 >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -gt 50 ] && { echo "sshd did not start; see $dir/sshd.log" >&2; cat "$dir/sshd.log" >&2; exit 1; }
        sleep 0.1
    done
    ;;
stop)
    [ -f "$dir/sshd.pid" ] && kill "$(cat "$dir/sshd.pid")" 2>/dev/null || true
    ;;
*) echo "usage: sshd.sh start DIR PORT USER | stop DIR" >&2; exit 64 ;;
esac
