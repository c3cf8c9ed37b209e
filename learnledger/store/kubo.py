"""A client for an IPFS node's Kubo RPC API: the weight store of a group that runs kubo.

A learner needs four endpoints, all POST as the RPC requires: ``/api/v0/add`` (multipart upload,
pinned, with the chunker, leaf and CID settings spelled out so the node's own configuration
cannot change the CID), ``/api/v0/cat``, ``/api/v0/pin/add`` and ``/api/v0/version``; a lab's
pin policy adds ``pin/rm`` and ``pin/ls``, and ``rpc`` calls any other (``id``, ``swarm/...``).
The same client talks to ``learnledger store serve``, which answers the learner's subset and
``pin/rm``.

Content the node lacks is searched for among its peers (bitswap) for ``find_timeout`` seconds, sent
as kubo's own ``timeout`` option; then ContentNotFound names the CID and the nodes asked.

Nothing from the node is trusted: bytes from ``cat`` are verified against the CID asked for, and
the CID ``add`` returns is checked against the CID computed here (in a worker thread, while the
bytes are on their way, so the check costs no wall time where a second core is free).

Failures are bounded: each request has a timeout; connection failures and 5xx answers that are
not the node's own error report are retried a few times with exponential backoff, then reported as
StoreUnreachable naming the URL.
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import socket
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from learnledger.store.api import ContentCorrupted, ContentNotFound, StoreError, StoreUnreachable
from learnledger.store.cid import CID_VERSIONS, InvalidCid, compute_cid, cid_version, verify_cid

DEFAULT_URL = "http://127.0.0.1:5001"
"""Kubo's default RPC address (and ``learnledger store serve``'s)."""

CHUNKER = "size-262144"
"""kubo's default chunker, sent explicitly so a node configured otherwise still gives our CIDs."""

_MULTIADDR = re.compile(r"/(?:ip4|ip6|dns|dns4|dns6)/([^/]+)/tcp/(\d+)(?:/(https?))?/?")
_RETRY_STATUSES = {500, 502, 503, 504}
_NOT_FOUND = re.compile(r"not found|could not find|no link named|not pinned", re.IGNORECASE)
_DEADLINE = re.compile(r"context deadline exceeded|deadline|timed? ?out", re.IGNORECASE)


def parse_node_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) from ``http://host:port`` or a multiaddr ``/ip4/host/tcp/port``.

    Raises:
        StoreError: anything else (the message echoes the text and shows the accepted forms).
    """
    match = _MULTIADDR.fullmatch(url.strip())
    if match:
        host, port, scheme = match.groups()
        return scheme or "http", host, int(port)
    parsed = urllib.parse.urlsplit(url.strip())
    try:
        port = parsed.port
    except ValueError:
        port = -1
    if parsed.scheme not in ("http", "https") or not parsed.hostname or port == -1:
        raise StoreError(
            f"not an IPFS node URL: {url!r}. Use http://HOST:PORT (kubo's RPC is "
            f"{DEFAULT_URL}) or a multiaddr such as /ip4/127.0.0.1/tcp/5001")
    return parsed.scheme, parsed.hostname, port or (443 if parsed.scheme == "https" else 80)


class KuboStore:
    """A ``WeightStore`` on an IPFS node reached by its Kubo RPC URL.

    Args:
        url: the node's RPC address (default ``http://127.0.0.1:5001``); nothing else is dialled.
        timeout: seconds to wait for a connection or for each read (default 30).
        retries: further attempts after a connection failure or a 5xx answer (default 3).
        backoff: seconds before the first retry, doubled each time (default 0.2).
        cid_version: CID version of added content, 1 (default, raw leaves) or 0.
        check_add: recompute each added file's CID here and refuse a node that disagrees
            (default True).
        find_timeout: seconds a real kubo may search its peers for content it lacks (cat, pin)
            before it gives up (default 60); then ContentNotFound names the CID and the nodes
            asked. Sent as kubo's ``timeout`` option, so the node stops searching too.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        timeout: float = 30.0,
        retries: int = 3,
        backoff: float = 0.2,
        cid_version: int = 1,
        check_add: bool = True,
        find_timeout: float = 60.0,
    ) -> None:
        if cid_version not in CID_VERSIONS:
            raise InvalidCid(f"CID version must be 0 or 1, received: cid_version={cid_version!r}")
        if timeout <= 0 or retries < 0 or backoff < 0 or find_timeout <= 0:
            raise ValueError(
                f"timeout must be > 0 and retries, backoff >= 0; received timeout={timeout!r}, "
                f"retries={retries!r}, backoff={backoff!r}, find_timeout={find_timeout!r}")
        self.scheme, self.host, self.port = parse_node_url(url)
        self.url = f"{self.scheme}://{self.host}:{self.port}"
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.cid_version = cid_version
        self.check_add = check_add
        self.find_timeout = find_timeout

    def __repr__(self) -> str:
        return f"KuboStore({self.url!r}, cid_version={self.cid_version})"

    # ------------------------------------------------------------------------- WeightStore

    def put(self, data: bytes, pin: bool = True) -> str:
        """Add ``data`` to the node (pinned unless ``pin`` is False) and return its CID."""
        boundary = secrets.token_hex(16)
        head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"weights.safetensors\"\r\nContent-Type: application/octet-stream"
                f"\r\n\r\n").encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        query = {"pin": _flag(pin), "cid-version": self.cid_version,
                 "raw-leaves": _flag(self.cid_version == 1), "chunker": CHUNKER,
                 "hash": "sha2-256", "progress": "false"}
        with ThreadPoolExecutor(max_workers=1) as worker:
            expected = worker.submit(compute_cid, data, self.cid_version) if self.check_add else None
            body = self._call("add", query, parts=(head, data, tail),
                              content_type=f"multipart/form-data; boundary={boundary}")
            cid = _added_cid(body, self.url)
            if expected is not None and expected.result() != cid:
                raise ContentCorrupted(
                    f"the node at {self.url} named the added bytes {cid}, but they are "
                    f"{expected.result()}: it chunks or hashes differently from kubo's defaults "
                    "or altered the bytes; use another node")
        cid_version(cid)
        return cid

    def get(self, cid: str) -> bytes:
        """The bytes named ``cid`` from the node, verified against it."""
        cid_version(cid)
        data = self._find("cat", cid)
        try:
            verify_cid(data, cid)
        except ContentCorrupted as error:
            raise ContentCorrupted(f"the node at {self.url} served wrong bytes: {error}") from None
        return data

    def pin(self, cid: str) -> None:
        """Ask the node to keep ``cid``."""
        cid_version(cid)
        answer = _json(self._find("pin/add", cid), self.url)
        if not isinstance(answer, dict) or not answer.get("Pins"):
            raise StoreError(f"the node at {self.url} did not confirm pinning {cid}: {answer!r:.200}")

    def unpin(self, cid: str) -> None:
        """Let the node remove ``cid`` at its next garbage collection.

        Raises:
            ContentNotFound: the node does not pin ``cid`` (directly).
        """
        cid_version(cid)
        self._call("pin/rm", {"arg": cid}, what=cid)

    def pins(self) -> list[str]:
        """The CIDs the node pins directly (recursive pins: what ``put`` and ``pin`` make)."""
        answer = self.rpc("pin/ls", {"type": "recursive"})
        return sorted((answer.get("Keys") or {}).keys())

    def rpc(self, endpoint: str, query: dict[str, object] | None = None) -> dict[str, Any]:
        """Call any Kubo RPC endpoint that answers one JSON object (``id``, ``swarm/peers``...)."""
        answer = _json(self._call(endpoint, query or {}), self.url)
        if not isinstance(answer, dict):
            raise StoreError(f"{self.url} answered {endpoint} with {answer!r:.200}, not an object")
        return answer

    def version(self) -> dict[str, Any]:
        """The node's version report (kubo: Version, Commit, Repo, System, Golang)."""
        answer = _json(self._call("version", {}), self.url)
        if not isinstance(answer, dict) or "Version" not in answer:
            raise StoreError(f"{self.url} does not answer like a Kubo RPC node: {answer!r:.200}")
        return answer

    # ------------------------------------------------------------------------- transport

    def _find(self, endpoint: str, cid: str) -> bytes:
        """``cat`` or ``pin/add`` of content the node may have to fetch from its peers first.

        kubo searches its peers until its ``timeout`` option expires, then answers with a
        deadline error; that is reported as ContentNotFound naming the CID and the nodes asked.
        """
        query = {"arg": cid, "timeout": f"{self.find_timeout:g}s"}
        try:
            return self._call(endpoint, query, what=cid, read_timeout=self.timeout + self.find_timeout)
        except StoreError as error:
            if isinstance(error, ContentNotFound) or not _DEADLINE.search(str(error)):
                raise
        raise ContentNotFound(
            f"no reachable IPFS node has {cid}: asked the node at {self.url} and its peers "
            f"{self._peer_list()} for {self.find_timeout:g} s. Start a node that holds it (a lab "
            "that pinned it) and connect it, or add the weights file again")

    def _peer_list(self) -> str:
        try:
            answer = self.rpc("swarm/peers")
        except StoreError:
            return "(unknown: swarm/peers did not answer)"
        peers = [f"{peer.get('Addr')}/p2p/{peer.get('Peer')}" for peer in answer.get("Peers") or []]
        return "[" + ", ".join(peers) + "]" if peers else "[none connected]"

    def _call(self, endpoint: str, query: dict[str, object], parts: tuple[bytes, ...] = (),
              content_type: str | None = None, what: str = "",
              read_timeout: float | None = None) -> bytes:
        path = f"/api/v0/{endpoint}?{urllib.parse.urlencode(query)}" if query else \
            f"/api/v0/{endpoint}"
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                status, body = self._post(path, parts, content_type, read_timeout or self.timeout)
            except (OSError, http.client.HTTPException) as error:
                problem = _describe(error, read_timeout or self.timeout)
            else:
                if status == 200:
                    return body
                message = _kubo_error(body)
                if message is not None or status not in _RETRY_STATUSES:
                    raise _refusal(endpoint, status, message, body, what, self.url)
                problem = f"HTTP {status}"
            if attempt < self.retries:
                time.sleep(delay)
                delay *= 2
        raise StoreUnreachable(
            f"the IPFS node at {self.url} could not be reached for {endpoint} after "
            f"{self.retries + 1} attempt{'s' if self.retries else ''} ({problem}); start one with 'learnledger ipfs up', "
            f"'learnledger store serve --port {self.port}' or 'ipfs daemon', or pass the right "
            "--ipfs URL")

    def _post(self, path: str, parts: tuple[bytes, ...], content_type: str | None,
              timeout: float) -> tuple[int, bytes]:
        connection_class = (http.client.HTTPSConnection if self.scheme == "https"
                            else http.client.HTTPConnection)
        connection = connection_class(self.host, self.port, timeout=timeout)
        try:
            connection.putrequest("POST", path, skip_accept_encoding=True)
            length = sum(memoryview(part).nbytes for part in parts)
            connection.putheader("Content-Length", str(length))
            if content_type:
                connection.putheader("Content-Type", content_type)
            connection.endheaders()
            try:
                for part in parts:
                    connection.send(part)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered before reading everything (a refusal): read it
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _describe(error: BaseException, timeout: float) -> str:
    if isinstance(error, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout:g} s"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused: nothing listens there"
    return f"{type(error).__name__}: {error}"


def _kubo_error(body: bytes) -> str | None:
    """The Message of a kubo error report ``{"Message", "Code", "Type": "error"}``, if it is one."""
    try:
        answer = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(answer, dict) and answer.get("Type") == "error":
        return str(answer.get("Message", ""))
    return None


def _refusal(endpoint: str, status: int, message: str | None, body: bytes, what: str,
             url: str) -> StoreError:
    told = message if message is not None else f"HTTP {status}: {body[:200]!r}"
    if what and message is not None and _NOT_FOUND.search(message):
        return ContentNotFound(f"the IPFS node at {url} does not have {what}: {told}")
    if status == 404 or status == 405:
        return StoreError(
            f"{url} has no Kubo RPC endpoint /api/v0/{endpoint} (HTTP {status}): is it an IPFS "
            "node's RPC port (5001), not a gateway (8080)?")
    if "no space left on device" in told.lower():
        return StoreError(
            f"the IPFS node at {url} refused {endpoint}: its disk is full ({told}). Nothing it pinned "
            "is lost; free space on its repo's disk (or run 'ipfs repo gc' there to drop unpinned "
            "blocks, such as those of this failed add) and try again")
    return StoreError(f"the IPFS node at {url} refused {endpoint}: {told}")


def _json(body: bytes, url: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise StoreError(f"{url} answered with something that is not JSON: {body[:200]!r}") \
            from None


def _added_cid(body: bytes, url: str) -> str:
    """The Hash of the last NDJSON line of an add answer (kubo prints one line per file)."""
    lines = [line for line in body.splitlines() if line.strip()]
    entry = _json(lines[-1], url) if lines else None
    if not isinstance(entry, dict) or not isinstance(entry.get("Hash"), str):
        raise StoreError(f"the node at {url} did not answer add with a Hash: {body[:200]!r}")
    return entry["Hash"]
