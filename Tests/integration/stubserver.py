"""Small stand-ins for servers Debian does not have: a Shoutcast v1 server answering
`ICY 200 OK` with ICY metadata, a stream that stalls, URLs failing with 503/404, and
playlists. Requests are recorded with their times so tests can check the retry pacing."""
import http.server
import threading
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def do_GET(self):
        srv = self.server
        with srv.lock:
            srv.requests.append((self.path, time.time()))
        path = self.path.split("?")[0]
        if path == "/icy.mp3":
            return self.icy()
        if path == "/stall.mp3":
            return self.stall()
        if path in ("/503", "/404"):
            code = int(path[1:])
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"unavailable\n")
            return
        if path == "/list.pls":
            body = ("[playlist]\nNumberOfEntries=2\nFile1=http://127.0.0.1:9/dead.mp3\nTitle1=dead\n"
                    f"File2=http://127.0.0.1:{srv.server_port}/icy.mp3\nTitle2=live\nVersion=2\n").encode()
            return self.text(body, "audio/x-scpls")
        if path == "/list.m3u":
            body = f"#EXTM3U\n#EXTINF:-1,dead\nhttp://127.0.0.1:9/dead.mp3\n#EXTINF:-1,live\nhttp://127.0.0.1:{srv.server_port}/icy.mp3\n".encode()
            return self.text(body, "audio/x-mpegurl")
        if path == "/noise":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            import os
            try:
                for _ in range(40):
                    self.wfile.write(os.urandom(16384).replace(b"\xff", b"\x00"))
                    time.sleep(0.05)
            except OSError:
                pass
            return
        self.send_response(404)
        self.end_headers()

    def text(self, body, ctype):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def paced(self, data, rate, seconds=None, metaint=None, titles=None):
        """Sends `data` (looping) at `rate` bytes/s, inserting ICY metadata every `metaint` bytes."""
        start = time.time()
        sent = 0
        since_meta = 0
        pos = 0
        block = 4000
        title_index = 0
        while not self.server.stopping:
            if seconds is not None and time.time() - start >= seconds:
                return
            chunk = data[pos:pos + block]
            pos = (pos + block) % len(data)
            out = b""
            for b in [chunk]:
                if metaint:
                    i = 0
                    while i < len(b):
                        n = min(metaint - since_meta, len(b) - i)
                        out += b[i:i + n]
                        i += n
                        since_meta += n
                        if since_meta == metaint:
                            since_meta = 0
                            meta = b""
                            elapsed = time.time() - start
                            if titles and title_index < len(titles) and elapsed >= titles[title_index][0]:
                                meta = titles[title_index][1]
                                title_index += 1
                            if meta:
                                text = b"StreamTitle='" + meta + b"';"
                                text += b"\0" * ((16 - len(text) % 16) % 16)
                                out += bytes([len(text) // 16]) + text
                            else:
                                out += b"\0"
                else:
                    out += b
            try:
                self.wfile.write(out)
                self.wfile.flush()
            except OSError:
                return
            sent += len(chunk)
            wait = start + sent / rate - time.time()
            if wait > 0:
                time.sleep(wait)

    def icy(self):
        # A Shoutcast v1 answer: no HTTP status line, header block, then audio with metadata.
        self.wfile.write(b"ICY 200 OK\r\nicy-name: Stub Radio\r\nicy-metaint: 8192\r\ncontent-type: audio/mpeg\r\n"
                         b"icy-br: 128\r\n\r\n")
        titles = [(0.5, "Caf\xe9 Latin-1".encode("latin-1")), (3.0, "Zweiter Titel \u00fc".encode("utf-8"))]
        self.paced(self.server.mp3, 64000, seconds=120, metaint=8192, titles=titles)

    def stall(self):
        self.send_response(200)
        self.send_header("Content-Type", "audio/mpeg")
        self.end_headers()
        self.paced(self.server.mp3, 32000, seconds=3)
        # Then keep the connection open without sending anything.
        while not self.server.stopping:
            time.sleep(0.1)


class StubServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def count(self, path):
        with self.lock:
            return [t for p, t in self.requests if p.split("?")[0] == path]

    def shutdown(self):
        self.stopping = True
        super().shutdown()
        self.server_close()


def start(port, mp3_path, icecast_port=None):
    srv = StubServer(("127.0.0.1", port), Handler)
    srv.lock = threading.Lock()
    srv.requests = []
    srv.stopping = False
    with open(mp3_path, "rb") as f:
        srv.mp3 = f.read()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv
