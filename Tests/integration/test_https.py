"""HTTPS streams for real: nginx (from Debian) with a certificate from a test CA made here,
proxying the local Icecast; an http -> https redirect; a .pls that points to https; a
certificate no trusted CA signed is refused with a clear error."""
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from audiotools import jsonlines
from conftest import PORT_BASE, bin_path

TLS_PORT = PORT_BASE + 9
PLAIN_PORT = PORT_BASE + 10


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def tls(icecast):
    if shutil.which("nginx") is None:
        pytest.skip("nginx is installed by make deps")
    d = tempfile.mkdtemp(prefix="sa-tls-")
    os.chmod(d, 0o755)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=save_audio_stream test CA", cwd=d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName = IP:127.0.0.1, DNS:localhost\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=d)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem",
            "-days", "2", "-extfile", "san.ext", cwd=d)
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)
    icecast.start_source("/tls.mp3")
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{TLS_PORT} ssl;
    ssl_certificate {d}/server.pem;
    ssl_certificate_key {d}/server.key;
    location = /radio.pls {{
      default_type audio/x-scpls;
      return 200 "[playlist]\\nNumberOfEntries=1\\nFile1=https://127.0.0.1:{TLS_PORT}/tls.mp3\\n";
    }}
    location / {{
      proxy_pass http://127.0.0.1:{icecast.port};
      proxy_buffering off;
      proxy_http_version 1.1;
      proxy_set_header Icy-MetaData $http_icy_metadata;
      proxy_read_timeout 60s;
    }}
  }}
  server {{
    listen 127.0.0.1:{PLAIN_PORT};
    location / {{ return 301 https://127.0.0.1:{TLS_PORT}$request_uri; }}
  }}
}}
""")
    p = subprocess.Popen(["nginx", "-c", conf, "-p", d], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PLAIN_PORT}/x", timeout=1)
        except urllib.error.HTTPError:
            break
        except OSError:
            time.sleep(0.1)
    yield d
    p.terminate()
    p.wait(10)
    icecast.stop_source("/tls.mp3")
    shutil.rmtree(d, ignore_errors=True)


def record(tmp_path, url, *extra, seconds=5):
    return subprocess.run([bin_path("sa-record"), "--url", url, "--name", "tls", "--output-dir", str(tmp_path), "--duration",
                           f"{seconds}s", "--min-free-mb", "0", "--stall-timeout", "5", *extra],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("how", ["https", "redirect", "pls"])
def test_https_streams_record_with_the_trusted_ca(tls, tmp_path, how):
    url = {"https": f"https://127.0.0.1:{TLS_PORT}/tls.mp3",
           "redirect": f"http://127.0.0.1:{PLAIN_PORT}/tls.mp3",
           "pls": f"https://127.0.0.1:{TLS_PORT}/radio.pls"}[how]
    r = record(tmp_path, url, "--ca-file", os.path.join(tls, "ca.pem"))
    assert r.returncode == 0, r.stderr
    recs = jsonlines(r.stdout)
    assert [x["reason"] for x in recs if x["type"] == "section_finished"] == ["duration"], r.stdout
    assert sum(x["duration_ms"] for x in recs if x["type"] == "segment") > 3000


def test_a_certificate_no_trusted_ca_signed_is_refused_clearly(tls, tmp_path):
    r = record(tmp_path, f"https://127.0.0.1:{TLS_PORT}/tls.mp3", seconds=4)
    assert r.returncode == 69, (r.returncode, r.stderr)
    assert "certificate" in r.stderr.lower(), r.stderr
    assert not [x for x in jsonlines(r.stdout) if x["type"] == "segment"]


def test_ca_file_in_a_session_is_used(tls, tmp_path):
    cfg = tmp_path / "record.toml"
    start = time.strftime("%H:%M", time.gmtime(time.time() - 3600))
    end = time.strftime("%H:%M", time.gmtime(time.time() + 3600))
    cfg.write_text(f"config_type = 'record'\noutput_dir = 'rec'\nmin_free_mb = 0\n[[sessions]]\nname = 'tlsshow'\n"
                   f"url = 'https://127.0.0.1:{TLS_PORT}/tls.mp3'\nca_file = '{tls}/ca.pem'\n"
                   f"[sessions.schedule]\nrecord_start = '{start}'\nrecord_end = '{end}'\n")
    p = subprocess.Popen([bin_path("sa-record"), "--config", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(6)
    p.terminate()
    out, err = p.communicate(timeout=30)
    assert [x for x in jsonlines(out) if x["type"] == "segment"], err
    cfg.write_text(cfg.read_text().replace(f"{tls}/ca.pem", f"{tls}/missing.pem"))
    r = subprocess.run([bin_path("sa-record"), "--config", str(cfg)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 78 and "ca_file" in r.stderr, r.stderr
