#!/usr/bin/python3
"""A local stand-in for Hugging Face and plain HTTPS file servers, for edgellm's download tests.

usage: fake_hub_server.py ROOT LOG   (prints "PORT <n>" when listening on 127.0.0.1)

  /OWNER/REPO/resolve/REV/FILE   302 to /cdn/OWNER/REPO/FILE with X-Linked-Etag: "<sha256>" (as the
                                 Hub does for LFS files); ROOT/hf/OWNER/REPO/FILE. OWNER "badhash"
                                 publishes a wrong hash.
  /cdn/PATH, /files/PATH         ROOT/hf/PATH, ROOT/files/PATH with Range support (206)
  /drop/files/PATH               the first request sends half of the body, then closes
  /stall/files/PATH              sends the headers and 100 bytes, then nothing for 60 s
Every request is appended to LOG as "METHOD PATH RANGE".
"""
import hashlib
import http.server
import os
import sys
import threading
import time

ROOT, LOG = sys.argv[1], sys.argv[2]
dropped = set()
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _log(self):
        with lock, open(LOG, "a") as f:
            f.write(f"{self.command} {self.path} {self.headers.get('Range', '-')}\n")

    def _not_found(self):
        body = b"Entry not found"
        self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _serve_file(self, path, mode=""):
        if not os.path.isfile(path):
            return self._not_found()
        with open(path, "rb") as f:
            data = f.read()
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if mode == "drop":
            with lock:
                first = path not in dropped
                dropped.add(path)
            if first:
                self.wfile.write(body[:len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
        if mode == "stall":
            self.wfile.write(body[:100])
            self.wfile.flush()
            time.sleep(60)
            return
        self.wfile.write(body)

    def do_GET(self):
        self._log()
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) >= 5 and parts[2] == "resolve":
            owner, repo, file = parts[0], parts[1], "/".join(parts[4:])
            path = os.path.join(ROOT, "hf", owner, repo, file)
            if not os.path.isfile(path):
                return self._not_found()
            with open(path, "rb") as f:
                sha = hashlib.sha256(f.read()).hexdigest()
            if owner == "badhash":
                sha = "0" * 64
            self.send_response(302)
            self.send_header("Location", f"/cdn/{owner}/{repo}/{file}")
            self.send_header("X-Linked-Etag", f'"{sha}"')
            self.send_header("ETag", 'W/"0123456789abcdef0123456789abcdef01234567"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if parts[0] == "cdn":
            return self._serve_file(os.path.join(ROOT, "hf", *parts[1:]))
        mode = ""
        if parts[0] in ("drop", "stall"):
            mode, parts = parts[0], parts[1:]
        if parts[0] == "files":
            return self._serve_file(os.path.join(ROOT, "files", *parts[1:]), mode)
        self._not_found()


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(f"PORT {server.server_address[1]}", flush=True)
server.serve_forever()
