"""A minimal HTTP/1.1 client for the load generators: one socket per request, nothing else.

httpx cost the load generator well over a millisecond of CPU per request (71 % of a core for the floor's
520 requests/s on a slow day), and the generator shares the two cores with the server it measures, so it
took from the server what it measured. This one costs a small fraction of that. It speaks just what the
benchmarks need: GET with a query, POST of a form or of JSON, default headers (the API token) and cookies
kept per client, `Connection: close` (gunicorn's sync workers close after every answer anyway), bodies by
Content-Length, chunked or to the end.
"""

from __future__ import annotations

import json as jsonlib
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode


class WireError(Exception):
    pass


@dataclass
class Reply:
    status_code: int
    headers: dict[str, str]  # names in lower case; the last of repeated headers
    text: str

    def json(self) -> Any:
        return jsonlib.loads(self.text)


@dataclass
class WireClient:
    host: str
    port: int
    timeout: float = 60.0
    cookies: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # sent with every request

    def get(
        self, path: str, *, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        target = f"{path}?{urlencode(params)}" if params else path
        return self._exchange("GET", target, headers or {}, b"")

    def post(
        self,
        path: str,
        *,
        data: dict[str, str] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        if json is not None:
            body, kind = jsonlib.dumps(json).encode(), "application/json"
        else:
            body, kind = urlencode(data or {}).encode(), "application/x-www-form-urlencoded"
        return self._exchange("POST", path, {"Content-Type": kind, **(headers or {})}, body)

    def _exchange(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in {**self.headers, **headers}.items()]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        with socket.create_connection((self.host, self.port), timeout=self.timeout) as conn:
            conn.sendall(request)
            received = bytearray()
            while chunk := conn.recv(65536):
                received += chunk
        return self._parse(bytes(received))

    def _parse(self, raw: bytes) -> Reply:
        head, separator, body = raw.partition(b"\r\n\r\n")
        if not separator:
            raise WireError(f"incomplete answer ({len(raw)} bytes)")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise WireError(f"bad status line {status_line!r}")
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _colon, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            headers[name] = value
            if name == "set-cookie":
                pair = value.split(";", 1)[0]
                key, _eq, cookie = pair.partition("=")
                self.cookies[key.strip()] = cookie.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = _unchunk(body)
        elif "content-length" in headers:
            body = body[: int(headers["content-length"])]
        return Reply(int(parts[1]), headers, body.decode("utf-8", "replace"))


def _unchunk(data: bytes) -> bytes:
    out = bytearray()
    position = 0
    while True:
        end = data.index(b"\r\n", position)
        size = int(data[position:end].split(b";", 1)[0], 16)
        if size == 0:
            return bytes(out)
        out += data[end + 2 : end + 2 + size]
        position = end + 2 + size + 2
