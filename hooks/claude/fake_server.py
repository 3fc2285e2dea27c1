#!/usr/bin/env python3
"""Fake Toolkit Sync bundle server for testing hooks/claude/toolkit-sync.sh.

Standard library only. Serves

    GET /api/v1/projects/<project>/bundle   (X-API-Key, Accept: application/gzip)

as a gzip'd tar of every file under <root>/docs at its relative path, plus
.toolkit-sync/manifest ("<sha256>  <path>" per file), with a strong ETag that
is a hash of the manifest (so it changes exactly when some doc changes).
If-None-Match with the current etag -> 304, no body.

Everything is configured through files in <root>, re-read on every request:

    docs/        the project's docs (edit them between runs; a doc made
                 executable is sent with mode 0755, a hostile bundle)
    key          the accepted API key          (default: tks_test)
    project      the project id                (default: p1)
    mode         optional, one of:
                   ok         normal (default)
                   401 / 403 / 404 / 500   answer that status (problem+json)
                   slow       sleep <root>/delay seconds (default 5), then normal
                   garbage    200 with a body that is not a tarball
                   badsha     manifest lists a wrong sha256 for the first doc
                   traversal  manifest and tar contain ../escaped.md
                   symlink    tar contains a symlink entry pointing at /etc
                   nomanifest tarball without .toolkit-sync/manifest

It writes <root>/port once listening (port 0 = pick a free one) and appends
one line per request to <root>/requests.log: "<status> <if-none-match or ->".

Usage: fake_server.py <root> [port]
"""

import hashlib
import http.server
import io
import json
import os
import sys
import tarfile
import time

ROOT = ""


def read_setting(name, default):
    try:
        with open(os.path.join(ROOT, name), encoding="utf-8") as f:
            value = f.read().strip()
            return value or default
    except FileNotFoundError:
        return default


def collect_docs():
    docs_dir = os.path.join(ROOT, "docs")
    docs = []
    for dirpath, dirnames, filenames in os.walk(docs_dir):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, docs_dir).replace(os.sep, "/")
            with open(full, "rb") as f:
                docs.append((rel, f.read()))
    docs.sort()
    return docs


def add_file(tar, name, data, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 1_700_000_000
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def mode_of(path):
    """0o755 for a doc the test made executable (chmod +x), else 0o644."""
    full = os.path.join(ROOT, "docs", path)
    return 0o755 if os.access(full, os.X_OK) else 0o644


def build_bundle(mode):
    docs = collect_docs()
    lines = []
    for path, data in docs:
        lines.append(f"{hashlib.sha256(data).hexdigest()}  {path}")
    if mode == "badsha" and lines:
        lines[0] = "0" * 64 + lines[0][64:]
    if mode == "traversal":
        evil = b"escaped\n"
        lines.append(f"{hashlib.sha256(evil).hexdigest()}  ../escaped.md")
        docs.append(("../escaped.md", evil))
    manifest = ("\n".join(lines) + "\n").encode() if lines else b""
    etag = '"' + hashlib.sha256(manifest).hexdigest()[:16] + '"'

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for path, data in docs:
            add_file(tar, path, data, mode_of(path) if path != "../escaped.md" else 0o644)
        if mode == "symlink":
            info = tarfile.TarInfo("link")
            info.type = tarfile.SYMTYPE
            info.linkname = "/etc"
            tar.addfile(info)
        if mode != "nomanifest":
            add_file(tar, ".toolkit-sync/manifest", manifest)
    return etag, buf.getvalue()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def record(self, status):
        inm = self.headers.get("If-None-Match") or "-"
        with open(os.path.join(ROOT, "requests.log"), "a", encoding="utf-8") as f:
            f.write(f"{status} {inm}\n")

    def send(self, status, body=b"", ctype=None, headers=()):
        self.record(status)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if status != 304:
            if ctype:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304 and self.command != "HEAD":
            self.wfile.write(body)

    def problem(self, status, title):
        body = json.dumps({
            "type": "https://toolkit-sync.dev/problems/fake",
            "title": title, "status": status, "instance": self.path,
        }).encode()
        self.send(status, body, "application/problem+json")

    def do_GET(self):
        mode = read_setting("mode", "ok")
        project = read_setting("project", "p1")
        key = read_setting("key", "tks_test")

        if mode == "slow":
            time.sleep(float(read_setting("delay", "5")))
        if mode in ("401", "403", "404", "500"):
            return self.problem(int(mode), f"fake {mode}")
        if self.path.split("?")[0] != f"/api/v1/projects/{project}/bundle":
            return self.problem(404, "Not Found")
        sent = self.headers.get("X-API-Key") or ""
        auth = self.headers.get("Authorization") or ""
        if sent != key and auth != f"Bearer {key}":
            return self.problem(401, "Unauthorized")
        if mode == "garbage":
            return self.send(200, b"<html>this is not a tarball</html>", "application/gzip",
                             [("ETag", '"garbage"')])

        etag, body = build_bundle(mode)
        if self.headers.get("If-None-Match") == etag:
            return self.send(304, headers=[("ETag", etag)])
        if "application/gzip" not in (self.headers.get("Accept") or ""):
            # The real server answers JSON here; a hook must ask for gzip.
            docs = [{"path": p, "sha256": hashlib.sha256(d).hexdigest(),
                     "content": d.decode("utf-8", "replace")} for p, d in collect_docs()]
            return self.send(200, json.dumps({"etag": etag, "docs": docs}).encode(),
                             "application/json", [("ETag", etag)])
        self.send(200, body, "application/gzip", [("ETag", etag)])


def main():
    global ROOT
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    ROOT = os.path.abspath(sys.argv[1])
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    os.makedirs(os.path.join(ROOT, "docs"), exist_ok=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    port_file = os.path.join(ROOT, "port")
    with open(port_file + ".tmp", "w", encoding="utf-8") as f:
        f.write(str(server.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
