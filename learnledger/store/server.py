"""The embedded store behind the Kubo RPC subset, so agents in other processes use ``KuboStore``.

``learnledger store serve`` runs this. It answers as kubo's RPC documentation specifies, for the
endpoints a learner needs: every call is a POST (anything else: 405), ``add`` takes a multipart
upload and prints one NDJSON line ``{"Name", "Hash", "Size"}`` per file, ``cat`` returns the bytes,
``pin/add`` and ``pin/rm`` answer ``{"Pins": [...]}``, ``version`` ``{"Version", ...}``, and errors are
``{"Message", "Code", "Type": "error"}`` with status 500 (400 for a missing or malformed argument).
A third-party client (``ipfshttpclient``) adds and cats through it.

``Version`` reports the kubo release whose RPC this subset follows, marked as ours
(``0.30.0-learnledger``); a client that insists on an old daemon (``ipfshttpclient.connect``
refuses kubo 0.8 and later) refuses this server as it refuses a current kubo.

There is no authentication, as with kubo's RPC port: it listens on 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import json
import os
import re
import threading
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from learnledger import __version__
from learnledger.store.api import ContentCorrupted, ContentNotFound, StoreError
from learnledger.store.cid import CHUNK_SIZE, InvalidCid, compute_cid, dag_size
from learnledger.store.local import LocalStore

KUBO_RPC_VERSION = "0.30.0"
"""The kubo release whose RPC the served subset follows."""

DEFAULT_PORT = 5001
DEFAULT_MAX_UPLOAD = 4 * 1024**3
"""Largest request body accepted (4 GiB), so a client cannot exhaust the server's memory."""

_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_FILENAME = re.compile(rb'filename="([^"]*)"', re.IGNORECASE)
_TRUE = {"true", "1", ""}


class RpcError(Exception):
    """An answer in kubo's error shape: ``{"Message", "Code", "Type": "error"}``."""

    def __init__(self, message: str, status: int = 500, code: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class StoreServer(ThreadingHTTPServer):
    """A threaded HTTP server holding the store that its handlers serve.

    Args:
        store: the embedded store to serve.
        host, port: where to listen (default 127.0.0.1:5001; port 0 picks a free one).
        max_upload: largest request body accepted (default 4 GiB).
        verify_reads: hash each object against its CID before serving it (default False, as
            kubo's ``Datastore.HashOnRead``: the file is sent as stored, with ``sendfile``, and
            the client verifies, as ``KuboStore`` always does).
    """

    daemon_threads = True

    def __init__(self, store: LocalStore, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 max_upload: int = DEFAULT_MAX_UPLOAD, verify_reads: bool = False) -> None:
        self.store = store
        self.max_upload = max_upload
        self.verify_reads = verify_reads
        super().__init__((host, port), KuboRpcHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


def serve_in_thread(store: LocalStore, host: str = "127.0.0.1", port: int = 0
                    ) -> tuple[StoreServer, threading.Thread]:
    """Start a server on a background thread (port 0: any free port); stop it with shutdown()."""
    server = StoreServer(store, host, port)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,),
                              name="learnledger-store-server",
                              daemon=True)
    thread.start()
    return server, thread


class KuboRpcHandler(BaseHTTPRequestHandler):
    """One request: route ``/api/v0/<endpoint>`` to the store, answer as kubo would."""

    server: StoreServer
    protocol_version = "HTTP/1.1"
    server_version = f"learnledger-store/{__version__}"

    def do_POST(self) -> None:  # noqa: N802 (the name http.server dispatches to)
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        endpoint = self._endpoints().get(url.path)
        try:
            body = self._read_body()
            if endpoint is None:
                self._send(404, b"404 page not found\n", "text/plain; charset=utf-8")
                return
            endpoint(query, body)
        except RpcError as error:
            self._send_error(error)
        except InvalidCid as error:
            self._send_error(RpcError(f"invalid path: {error}", 400, 1))
        except ContentNotFound as error:
            self._send_error(RpcError(f"block was not found locally (offline): {error}"))
        except (ContentCorrupted, StoreError) as error:
            self._send_error(RpcError(str(error)))

    def do_GET(self) -> None:  # noqa: N802
        self._send(405, b"405 - Method Not Allowed: the Kubo RPC accepts POST only\n",
                   "text/plain; charset=utf-8")

    do_PUT = do_DELETE = do_HEAD = do_GET  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:
        """Quiet by default: a learner's log should not fill with one line per request."""

    # ------------------------------------------------------------------------- endpoints

    def _endpoints(self) -> dict[str, Callable[[dict[str, list[str]], bytes | memoryview], None]]:
        return {"/api/v0/add": self._add, "/api/v0/cat": self._cat,
                "/api/v0/pin/add": self._pin_add, "/api/v0/pin/rm": self._pin_rm,
                "/api/v0/version": self._version}

    def _add(self, query: dict[str, list[str]], body: bytes | memoryview) -> None:
        version = _int_option(query, "cid-version", 0)
        if version not in (0, 1):
            raise RpcError(f"unsupported cid-version {version}: use 0 or 1", 400, 1)
        raw_leaves = _bool_option(query, "raw-leaves", version == 1)
        if raw_leaves != (version == 1):
            raise RpcError(
                f"cid-version={version} with raw-leaves={str(raw_leaves).lower()} is not supported: "
                "this store makes kubo's defaults, CIDv0 with wrapped leaves and CIDv1 with raw "
                "leaves; pass raw-leaves=true with cid-version=1, or neither", 400, 1)
        if _bool_option(query, "trickle", False):
            raise RpcError("the trickle layout is not supported: only kubo's default balanced "
                           "layout", 400, 1)
        chunker = _option(query, "chunker", f"size-{CHUNK_SIZE}")
        if chunker != f"size-{CHUNK_SIZE}":
            raise RpcError(f"unsupported chunker {chunker!r}: only size-{CHUNK_SIZE} (kubo's "
                           "default)", 400, 1)
        if _option(query, "hash", "sha2-256") != "sha2-256":
            raise RpcError("unsupported hash: only sha2-256 (kubo's default)", 400, 1)
        if _bool_option(query, "wrap-with-directory", False):
            raise RpcError("wrap-with-directory is not supported: add files one by one", 400, 1)
        pin = _bool_option(query, "pin", True)
        only_hash = _bool_option(query, "only-hash", False)
        lines = []
        for name, content in _multipart_files(self.headers.get("Content-Type", ""), body):
            if only_hash:
                cid = compute_cid(content, version)
            else:
                cid = self.server.store.put(content, pin=pin, cid_version=version)
            size = dag_size(memoryview(content).nbytes, version)
            lines.append(json.dumps({"Name": name or cid, "Hash": cid, "Size": str(size)}))
        if not lines:
            raise RpcError("no file in the multipart body: send the bytes as a form-data part",
                           400, 1)
        self._send(200, ("\n".join(lines) + "\n").encode(), "application/json",
                   {"X-Chunked-Output": "1"})

    def _cat(self, query: dict[str, list[str]], body: bytes | memoryview) -> None:
        cid = _path_argument(query)
        if self.server.verify_reads:
            self._send(200, self.server.store.get(cid), "text/plain", {"X-Stream-Output": "1"})
            return
        with self.server.store.open(cid) as file:
            size = os.fstat(file.fileno()).st_size
            self._send_head(200, size, "text/plain", {"X-Stream-Output": "1"})
            self.connection.sendfile(file)  # zero-copy from the page cache where the OS can

    def _pin_add(self, query: dict[str, list[str]], body: bytes | memoryview) -> None:
        cids = query.get("arg") or []
        if not cids:
            raise RpcError('argument "ipfs-path" is required', 400, 1)
        for cid in cids:
            self.server.store.pin(_strip_ipfs_prefix(cid))
        self._send_json({"Pins": [_strip_ipfs_prefix(cid) for cid in cids]})

    def _pin_rm(self, query: dict[str, list[str]], body: bytes | memoryview) -> None:
        cids = [_strip_ipfs_prefix(cid) for cid in query.get("arg") or []]
        if not cids:
            raise RpcError('argument "ipfs-path" is required', 400, 1)
        pinned = set(self.server.store.pins())
        for cid in cids:
            if cid not in pinned:
                raise RpcError(f"{cid} is not pinned or pinned indirectly")
            self.server.store.unpin(cid)
        self._send_json({"Pins": cids})

    def _version(self, query: dict[str, list[str]], body: bytes | memoryview) -> None:
        self._send_json({"Version": f"{KUBO_RPC_VERSION}-learnledger", "Commit": "",
                         "Repo": "", "System": f"learnledger-store/{__version__}", "Golang": ""})

    # ------------------------------------------------------------------------- HTTP plumbing

    def _read_body(self) -> bytes | memoryview:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length_text = self.headers.get("Content-Length", "0")
        try:
            length = int(length_text)
        except ValueError:
            raise RpcError(f"malformed Content-Length {length_text!r}", 400, 1) from None
        self._check_upload_size(length)
        if length == 0:
            return b""
        buffer = bytearray(length)
        view = memoryview(buffer)
        received = 0
        while received < length:
            count = self.rfile.readinto(view[received:])
            if not count:
                raise RpcError(f"the request body ended after {received} of {length} bytes", 400, 1)
            received += count
        return view

    def _read_chunked(self) -> bytes:
        pieces, total = [], 0
        while True:
            line = self.rfile.readline(1024).strip()
            try:
                size = int(line.split(b";")[0], 16)
            except ValueError:
                raise RpcError(f"malformed chunk size {line[:40]!r}", 400, 1) from None
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return b"".join(pieces)
            total += size
            self._check_upload_size(total)
            pieces.append(self.rfile.read(size))
            self.rfile.readline(16)

    def _check_upload_size(self, length: int) -> None:
        if length > self.server.max_upload:
            self.close_connection = True
            raise RpcError(f"request body of {length:,} bytes exceeds this server's limit of "
                           f"{self.server.max_upload:,} bytes", 413, 1)

    def _send_json(self, answer: object, status: int = 200) -> None:
        self._send(status, json.dumps(answer).encode(), "application/json")

    def _send_error(self, error: RpcError) -> None:
        self._send_json({"Message": str(error), "Code": error.code, "Type": "error"}, error.status)

    def _send(self, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self._send_head(status, len(body), content_type, headers)
        self.wfile.write(body)

    def _send_head(self, status: int, length: int, content_type: str,
                   headers: dict[str, str] | None = None) -> None:
        self.send_response(status, HTTPStatus(status).phrase)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()


def _option(query: dict[str, list[str]], name: str, default: str) -> str:
    values = query.get(name)
    return values[-1] if values else default


def _bool_option(query: dict[str, list[str]], name: str, default: bool) -> bool:
    if name not in query:
        return default
    return _option(query, name, "").lower() in _TRUE


def _int_option(query: dict[str, list[str]], name: str, default: int) -> int:
    text = _option(query, name, str(default))
    try:
        return int(text)
    except ValueError:
        raise RpcError(f"{name} must be an integer, received {text!r}", 400, 1) from None


def _strip_ipfs_prefix(path: str) -> str:
    return path[len("/ipfs/"):] if path.startswith("/ipfs/") else path


def _path_argument(query: dict[str, list[str]]) -> str:
    values = query.get("arg")
    if not values:
        raise RpcError('argument "ipfs-path" is required', 400, 1)
    return _strip_ipfs_prefix(values[0])


def _multipart_files(content_type: str, body: bytes | memoryview
                     ) -> list[tuple[str, memoryview]]:
    """(file name, content) of each file part of a multipart/form-data body, without copying."""
    match = _BOUNDARY.search(content_type)
    if not content_type.lower().startswith("multipart/") or not match:
        raise RpcError(f"add needs a multipart/form-data body, received Content-Type "
                       f"{content_type!r}", 400, 1)
    delimiter = b"--" + match.group(1).encode()
    view = memoryview(body).cast("B")
    data = body if isinstance(body, bytes) else view.obj  # bytes.find works on both
    files = []
    position = data.find(delimiter)
    while position != -1:
        start = position + len(delimiter)
        if bytes(view[start:start + 2]) == b"--":
            break  # the closing delimiter
        header_end = data.find(b"\r\n\r\n", start)
        following = data.find(b"\r\n" + delimiter, header_end + 4) if header_end != -1 else -1
        if following == -1:
            raise RpcError("the multipart body is truncated: a part has no closing boundary",
                           400, 1)
        headers = bytes(view[start:header_end])
        if b"application/x-directory" not in headers.lower():
            name_match = _FILENAME.search(headers)
            name = urllib.parse.unquote(name_match.group(1).decode("utf-8", "replace")) \
                if name_match else ""
            files.append((name, view[header_end + 4:following]))
        position = following + 2
    return files
