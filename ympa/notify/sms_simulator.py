"""A local stand-in for the 46elks SMS API, for development and tests. Standard library only.

It follows the published API, not Ympa's client, so that code tested against it also works against 46elks:
  API overview (Basic auth, form-encoded requests, JSON answers)   https://46elks.se/docs/overview
  Send an SMS (POST /a1/sms)                                       https://46elks.com/docs/send-sms
  Get an SMS by id (GET /a1/sms/<id>: fields, statuses, cost unit)  https://46elks.se/docs/show-sms-id
  SMS history (GET /a1/sms: start, end, limit, to; data + next)    https://46elks.com/docs/sms-history
  Delivery reports (form POSTed to whendelivered; 200-204 = done)  https://46elks.se/docs/sms-delivery-reports
  Message parts (GSM 03.38 basic set: 160/153, else UTF-16: 70/67) https://46elks.com/kb/sms-splitting-and-pricing
  Text sender IDs (3-11 of A-Z a-z 0-9, not starting with a digit)  https://46elks.com/kb/text-sender-id
  Errors (403/404, plain-text description in the body)             https://www.46elks.com/docs

Where the documentation is silent the simulator is strict, so that surprises show up here first: it refuses
request bodies that are not form-encoded and yes/no options with any other value, and its error texts are
its own (46elks does not publish its wording). Costs follow the documented unit, 1/10000 of the account
currency, at `price_per_part` per message part (3500 = 0.35 SEK).

Conventions of the simulator itself (not of 46elks):
  - A recipient number ending in "0000" is undeliverable: its final status is "failed". All other numbers are
    delivered. (So +46700000000, the example number in 46elks' documentation, fails.)
  - Every SMS goes "created" -> "sent" after `delivery_delay` seconds -> "delivered"/"failed" after another
    `delivery_delay`. With a `whendelivered` URL, each step is POSTed there, in order.
  - A callback not answered with 200-204 is retried, 5 attempts in all, waiting `callback_backoff` seconds and
    doubling (46elks keeps trying for hours). The outcome is shown on the message page.
  - GET / (an HTML page of the messages, refreshing every 2 seconds), GET /messages.json and POST /reset
    (forget all messages) are tools for developers: no credentials, but only for clients on this machine.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import html
import http.client
import ipaddress
import json
import math
import re
import sys
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

SimStatus = Literal["created", "sent", "delivered", "failed"]

# The GSM 03.38 basic character set, in table order (0x1B, the escape to the extension table, is left out).
# 46elks sends a message as GSM 7-bit only when every character is in this set; anything else, including the
# extension characters such as € [ ] { } ~ ^ | \, makes the whole message UTF-16 (see the splitting page).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)

# An SMS carries 140 bytes; a multipart one spends 6 of them on the header that joins the parts.
_GSM7_SINGLE, _GSM7_MULTI = 160, 153
_UTF16_SINGLE, _UTF16_MULTI = 70, 67

_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_TEXT_SENDER = re.compile(r"[A-Za-z][A-Za-z0-9]{2,10}")
_FAILING_SUFFIX = "0000"
_CALLBACK_ATTEMPTS = 5
_CALLBACK_TIMEOUT = 5.0
_HISTORY_MAX_LIMIT = 100  # "At most 100 SMS can be retrieved at once."
_MAX_BODY = 64 * 1024
_POLL_INTERVAL = 0.05  # how quickly serve_forever notices stop()


def sms_parts(message: str) -> int:
    """How many SMS parts 46elks bills for `message`."""
    if all(char in GSM7_BASIC for char in message):
        if len(message) <= _GSM7_SINGLE:
            return 1
        return math.ceil(len(message) / _GSM7_MULTI)
    # UTF-16 code units: 1 for most characters, 2 for those outside the BMP (most emoji). A character is never
    # split between two parts, so a part may end up to one unit short.
    units = [len(char.encode("utf-16-be")) // 2 for char in message]
    if sum(units) <= _UTF16_SINGLE:
        return 1
    parts, room = 1, _UTF16_MULTI
    for size in units:
        if size > room:
            parts, room = parts + 1, _UTF16_MULTI
        room -= size
    return parts


@dataclass(frozen=True)
class SimulatedSms:
    """A message the simulator accepted. `message` is None if it was sent with dontlog=message."""

    id: str
    sender: str
    to: str
    message: str | None
    parts: int
    cost: int
    status: SimStatus
    created: datetime
    delivered: datetime | None
    when_delivered: str | None
    flash: bool
    last_callback: str | None = None

    def api_json(self) -> dict[str, object]:
        """The fields GET /a1/sms/<id> documents (which do not include `parts`)."""
        data: dict[str, object] = {
            "id": self.id,
            "direction": "outgoing",
            "from": self.sender,
            "to": self.to,
            "created": _created_text(self.created),
            "status": self.status,
            "cost": self.cost,
        }
        if self.message is not None:
            data["message"] = self.message
        if self.delivered is not None:
            data["delivered"] = _delivered_text(self.delivered)
        return data


def _created_text(moment: datetime) -> str:
    # The documented form of "created": UTC with microseconds and no zone designator.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def _delivered_text(moment: datetime) -> str:
    # The documented form of "delivered" in the history example: UTC to the second, with "Z".
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _RequestError(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text


class SmsSimulator:
    """Serves the simulated API on `host`:`port` (0 picks a free port); see the module docstring."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "ympa",
        password: str = "simulator",  # noqa: S107 - the published credential of a local test double
        price_per_part: int = 3500,
        delivery_delay: float = 0.2,
        *,
        callback_backoff: float = 1.0,
    ) -> None:
        if price_per_part < 0 or delivery_delay < 0 or callback_backoff < 0:
            raise ValueError("price_per_part, delivery_delay and callback_backoff must not be negative")
        self.username = username
        self.password = password
        self.price_per_part = price_per_part
        self.delivery_delay = delivery_delay
        self.callback_backoff = callback_backoff
        self._lock = threading.Lock()
        self._messages: list[SimulatedSms] = []
        self._last_created = datetime.min.replace(tzinfo=UTC)
        self._stopping = threading.Event()
        self._workers: list[threading.Thread] = []
        self._serve_thread: threading.Thread | None = None
        self._serving_here = False
        self._stopped = False
        self._server = _Server((host, port), _Handler, self)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def messages(self) -> list[SimulatedSms]:
        """A snapshot of the recorded messages, oldest first."""
        with self._lock:
            return list(self._messages)

    def start(self) -> None:
        """Serve in a background thread."""
        if self._serve_thread is not None:
            raise RuntimeError("the simulator is already running")
        self._serve_thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name="sms-simulator",
            daemon=True,
        )
        self._serve_thread.start()

    def serve_forever(self) -> None:
        """Serve in the calling thread until stop() is called (from another thread) or it is interrupted."""
        self._serving_here = True
        try:
            self._server.serve_forever(poll_interval=_POLL_INTERVAL)
        finally:
            self._serving_here = False

    def stop(self) -> None:
        """Stop serving, abandon pending status changes and callbacks, and release the port."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping.set()
        # shutdown() waits for a serve_forever loop to finish, so it would hang if none is running.
        if self._serve_thread is not None or self._serving_here:
            self._server.shutdown()
        self._server.server_close()
        if self._serve_thread is not None:
            self._serve_thread.join()
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(timeout=_CALLBACK_TIMEOUT + 1)

    def __enter__(self) -> SmsSimulator:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self) -> int:
        """Forget all messages (their pending status changes stop too); returns how many there were."""
        with self._lock:
            count = len(self._messages)
            self._messages.clear()
        return count

    # Request handling; called from the server's threads.

    def send(self, form: Mapping[str, str]) -> dict[str, object]:
        to = _plus_restored(_required(form, "to"))
        if not _E164.fullmatch(to):
            raise _RequestError(403, "Invalid 'to': the recipient must be in E.164 form, like +46701234567.")
        sender = _plus_restored(_required(form, "from"))
        if not (_TEXT_SENDER.fullmatch(sender) or _E164.fullmatch(sender)):
            raise _RequestError(
                403,
                "Invalid 'from': use 3-11 letters A-Z and digits starting with a letter,"
                " or a phone number in E.164 form.",
            )
        message = _required(form, "message")
        when_delivered = form.get("whendelivered") or None
        if when_delivered is not None:
            target = urlsplit(when_delivered)
            if target.scheme not in {"http", "https"} or not target.hostname:
                raise _RequestError(403, "Invalid 'whendelivered': it must be an http or https URL.")
        dry_run = _yes_no(form, "dryrun")
        flash = _yes_no(form, "flashsms")
        dont_log = form.get("dontlog", "")
        if dont_log not in {"", "message"}:
            raise _RequestError(403, "Invalid 'dontlog': the only supported value is 'message'.")

        parts = sms_parts(message)
        cost = parts * self.price_per_part
        answer: dict[str, object] = {"status": "created", "direction": "outgoing", "from": sender, "to": to}
        if not dont_log:
            answer["message"] = message
        answer["parts"] = parts
        if dry_run:
            # The documentation only names `estimated_cost` for dry runs. Nothing is created, so the answer
            # leaves out what creating would have produced (id, created, cost) and nothing is recorded.
            answer["estimated_cost"] = cost
            return answer

        sms = SimulatedSms(
            id="s" + uuid.uuid4().hex,
            sender=sender,
            to=to,
            message=None if dont_log else message,
            parts=parts,
            cost=cost,
            status="created",
            created=datetime.now(UTC),
            delivered=None,
            when_delivered=when_delivered,
            flash=flash,
        )
        worker = threading.Thread(target=self._progress, args=(sms.id,), name=f"sms-{sms.id}", daemon=True)
        with self._lock:
            # History pages on "created" ("start" = strictly before), so every timestamp must be unique.
            created = max(sms.created, self._last_created + timedelta(microseconds=1))
            self._last_created = created
            sms = replace(sms, created=created)
            self._messages.append(sms)
            self._workers = [thread for thread in self._workers if thread.is_alive()]
            self._workers.append(worker)
            # Started under the lock so that stop() never finds a listed worker it cannot join yet.
            worker.start()
        answer.update(id=sms.id, created=_created_text(sms.created), cost=cost)
        return answer

    def find(self, sms_id: str) -> SimulatedSms | None:
        with self._lock:
            return next((sms for sms in self._messages if sms.id == sms_id), None)

    def history(self, query: Mapping[str, str]) -> dict[str, object]:
        before = _query_time(query, "start")  # "Retrieve SMS before this date."
        after = _query_time(query, "end")  # "Retrieve SMS after this date."
        try:
            limit = int(query.get("limit") or _HISTORY_MAX_LIMIT)
        except ValueError:
            raise _RequestError(403, "Invalid 'limit': it must be a whole number.") from None
        if not 1 <= limit <= _HISTORY_MAX_LIMIT:
            raise _RequestError(403, f"Invalid 'limit': it must be between 1 and {_HISTORY_MAX_LIMIT}.")
        to = _plus_restored(query.get("to", ""))
        with self._lock:
            matching = [
                sms
                for sms in reversed(self._messages)
                if (before is None or sms.created < before)
                and (after is None or sms.created > after)
                and (not to or sms.to == to)
            ]
        page = matching[:limit]
        result: dict[str, object] = {"data": [sms.api_json() for sms in page]}
        if len(matching) > limit:
            # Passed back as "start", this continues right after the last SMS on this page.
            result["next"] = _created_text(page[-1].created)
        return result

    # Status changes and delivery reports; one worker thread per message.

    def _progress(self, sms_id: str) -> None:
        if self._stopping.wait(self.delivery_delay):
            return
        sms = self._update(sms_id, lambda sms: replace(sms, status="sent"))
        if sms is None:
            return
        self._report(sms, {"id": sms.id, "status": "sent"})
        if self._stopping.wait(self.delivery_delay):
            return
        if sms.to.endswith(_FAILING_SUFFIX):
            sms = self._update(sms_id, lambda sms: replace(sms, status="failed"))
            if sms is not None:
                self._report(sms, {"id": sms.id, "status": "failed"})
            return
        now = datetime.now(UTC)
        sms = self._update(sms_id, lambda sms: replace(sms, status="delivered", delivered=now))
        if sms is not None:
            self._report(sms, {"id": sms.id, "status": "delivered", "delivered": _delivered_text(now)})

    def _update(self, sms_id: str, change: Callable[[SimulatedSms], SimulatedSms]) -> SimulatedSms | None:
        # None if the message was forgotten by reset() in the meantime.
        with self._lock:
            for index, sms in enumerate(self._messages):
                if sms.id == sms_id:
                    self._messages[index] = change(sms)
                    return self._messages[index]
        return None

    def _report(self, sms: SimulatedSms, form: dict[str, str]) -> None:
        if sms.when_delivered is None:
            return
        note = self._call_back(sms.when_delivered, form)
        if note is not None:
            self._update(sms.id, lambda current: replace(current, last_callback=note))

    def _call_back(self, url: str, form: dict[str, str]) -> str | None:
        """POST a status change, with retries. Returns a note for the message page (None if stopped)."""
        outcome = ""
        for attempt in range(_CALLBACK_ATTEMPTS):
            if attempt and self._stopping.wait(self.callback_backoff * 2 ** (attempt - 1)):
                return None
            error = _post_form(url, form)
            if error is None:
                return f"{form['status']}: accepted (attempt {attempt + 1})"
            outcome = error
        return f"{form['status']}: gave up after {_CALLBACK_ATTEMPTS} attempts ({outcome})"


def _required(form: Mapping[str, str], key: str) -> str:
    value = form.get(key, "")
    if not value:
        raise _RequestError(403, f"Missing parameter '{key}'.")
    return value


def _plus_restored(value: str) -> str:
    # 46elks' own curl examples send "to=+46..." without encoding the plus, which form decoding turns into a
    # space. Those examples work against the real API, so a space in front of the number is read as "+".
    if value.startswith(" ") and value[1:2].isdigit():
        return "+" + value[1:]
    return value


def _yes_no(form: Mapping[str, str], key: str) -> bool:
    value = form.get(key, "")
    if value not in {"", "yes", "no"}:
        raise _RequestError(403, f"Invalid '{key}': use 'yes' or 'no'.")
    return value == "yes"


def _query_time(query: Mapping[str, str], key: str) -> datetime | None:
    raw = query.get(key)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise _RequestError(
            403, f"Invalid '{key}': use a timestamp like 2018-02-14T09:52:07.302000."
        ) from None
    # 46elks times are UTC; the documented examples carry no zone designator.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _post_form(url: str, form: Mapping[str, str]) -> str | None:
    """POST `form` to `url`; None on success (200-204), else what went wrong."""
    target = urlsplit(url)
    host = target.hostname or ""
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = http.client.HTTPSConnection(host, target.port, timeout=_CALLBACK_TIMEOUT)
    else:
        connection = http.client.HTTPConnection(host, target.port, timeout=_CALLBACK_TIMEOUT)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    # 46elks documents "https://user:password@host/..." as the way to give a callback Basic auth credentials.
    if target.username is not None:
        credentials = f"{unquote(target.username)}:{unquote(target.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
    path = (target.path or "/") + (f"?{target.query}" if target.query else "")
    try:
        # http.client, not urllib: a redirect must not be followed (urllib would turn the POST into a GET).
        connection.request("POST", path, body=urlencode(form), headers=headers)
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        return f"no answer: {exc or type(exc).__name__}"
    finally:
        connection.close()
    # The documented success range; other 2xx answers count as failures too.
    return None if 200 <= status <= 204 else f"HTTP {status}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[_Handler], simulator: SmsSimulator) -> None:
        self.simulator = simulator
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "46elks-simulator"

    def log_message(self, format: str, *args: object) -> None:
        # Quiet: the message page is the log, and tests should not print per request.
        return

    def do_GET(self) -> None:
        target = urlsplit(self.path)
        path = target.path
        resource = path.lower()
        try:
            if path == "/":
                self._require_loopback()
                self._send(200, "text/html; charset=utf-8", _render_page(self.server.simulator).encode())
            elif path == "/messages.json":
                self._require_loopback()
                messages = [_tool_json(sms) for sms in reversed(self.server.simulator.messages)]
                self._send_json(200, {"messages": messages})
            elif resource == "/a1/sms":
                self._require_auth()
                self._send_json(200, self.server.simulator.history(dict(parse_qsl(target.query))))
            elif resource.startswith("/a1/sms/"):
                self._require_auth()
                sms = self.server.simulator.find(unquote(path[len("/a1/sms/") :]))
                if sms is None:
                    raise _RequestError(404, "No SMS with that id.")
                self._send_json(200, sms.api_json())
            else:
                raise _RequestError(404, "Not found.")
        except _RequestError as exc:
            self._send_error(exc)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        try:
            if path.lower() == "/a1/sms":
                self._require_auth()
                self._send_json(200, self.server.simulator.send(self._read_form()))
            elif path == "/reset":
                self._require_loopback()
                self._send_json(200, {"cleared": self.server.simulator.reset()})
            else:
                raise _RequestError(404, "Not found.")
        except _RequestError as exc:
            self._send_error(exc)

    def _require_auth(self) -> None:
        scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        username, separator, password = decoded.partition(":")
        simulator = self.server.simulator
        valid = (
            scheme.lower() == "basic"
            and bool(separator)
            and hmac.compare_digest(username.encode(), simulator.username.encode())
            and hmac.compare_digest(password.encode(), simulator.password.encode())
        )
        if not valid:
            raise _RequestError(401, "Unauthorized: wrong or missing API username and password.")

    def _require_loopback(self) -> None:
        if not ipaddress.ip_address(self.client_address[0]).is_loopback:
            raise _RequestError(403, "This page is only available from the machine the simulator runs on.")

    def _read_form(self) -> dict[str, str]:
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise _RequestError(403, "The request body must be application/x-www-form-urlencoded.")
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            raise _RequestError(400, "Invalid Content-Length.") from None
        if not 0 <= length <= _MAX_BODY:
            raise _RequestError(413, "The request body is too large.")
        try:
            body = self.rfile.read(length).decode()
        except UnicodeDecodeError:
            raise _RequestError(403, "The request body must be UTF-8.") from None
        return dict(parse_qsl(body, keep_blank_values=True))

    def _send_error(self, error: _RequestError) -> None:
        extra = {"WWW-Authenticate": 'Basic realm="46elks simulator"'} if error.status == 401 else {}
        self._send(error.status, "text/plain; charset=utf-8", error.text.encode(), extra)

    def _send_json(self, status: int, data: object) -> None:
        self._send(status, "application/json", json.dumps(data, ensure_ascii=False).encode())

    def _send(
        self, status: int, content_type: str, body: bytes, extra: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        # Message texts are shown on the page; even if escaping were missed somewhere, no script may run.
        self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
        self.send_header("Cache-Control", "no-store")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _tool_json(sms: SimulatedSms) -> dict[str, object]:
    data = asdict(sms)
    data["created"] = sms.created.isoformat()
    data["delivered"] = sms.delivered.isoformat() if sms.delivered else None
    return data


def _render_page(simulator: SmsSimulator) -> str:
    rows = []
    for sms in reversed(simulator.messages):
        text = "(not logged)" if sms.message is None else sms.message
        cost = f"{sms.cost // 10000}.{sms.cost % 10000:04d}"
        status = sms.status + (
            f"<br><small>{html.escape(sms.last_callback)}</small>" if sms.last_callback else ""
        )
        rows.append(
            "<tr>"
            f"<td>{html.escape(sms.created.strftime('%Y-%m-%d %H:%M:%S'))} UTC</td>"
            f"<td>{html.escape(sms.sender)}</td>"
            f"<td>{html.escape(sms.to)}</td>"
            f'<td class="text">{html.escape(text)}</td>'
            f"<td>{sms.parts}</td>"
            f'<td title="{sms.cost} (1/10000 of the account currency)">{cost}</td>'
            f"<td>{status}</td>"
            "</tr>"
        )
    body = "".join(rows) or '<tr><td colspan="7">No messages yet.</td></tr>'
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="2">
<title>46elks SMS simulator</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #ccc; padding: .3rem .5rem; text-align: left; vertical-align: top; }}
td.text {{ white-space: pre-wrap; max-width: 40rem; }}
</style>
</head>
<body>
<h1>46elks SMS simulator</h1>
<p>API base URL <code>{html.escape(simulator.url)}/a1</code>. Newest first; refreshes every 2 seconds.</p>
<table>
<thead><tr><th>Time</th><th>From</th><th>To</th><th>Text</th><th>Parts</th><th>Cost</th><th>Status</th></tr></thead>
<tbody>{body}</tbody>
</table>
</body>
</html>
"""


def run(port: int, *, username: str, password: str) -> None:
    """Serve the simulator on 127.0.0.1:`port` until Ctrl-C (for `ympa simulate sms`)."""
    simulator = SmsSimulator(port=port, username=username, password=password)
    sys.stdout.write(
        "46elks SMS simulator\n"
        f"  messages page: {simulator.url}/\n"
        f"  API base URL:  {simulator.url}/a1\n"
        f"  username:      {username}\n"
        f"  password:      {password}\n"
        "Press Ctrl-C to stop.\n"
    )
    sys.stdout.flush()
    try:
        simulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()
