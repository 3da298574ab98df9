"""The 46elks client against the local simulator over real loopback sockets. No Django needed.

Run with: .venv/bin/pytest -p no:django ympa/notify/tests/test_elks.py
"""

from __future__ import annotations

import base64
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import httpx
import pytest

from ympa.notify.elks import (
    DeliveryReport,
    ElksClient,
    InvalidDeliveryReport,
    SmsAuthError,
    SmsError,
    SmsRejected,
    SmsUnavailable,
    parse_delivery_report,
    parse_timestamp,
)
from ympa.notify.sms_simulator import SmsSimulator, sms_parts

USERNAME, PASSWORD = "ympa", "simulator"
TO = "+46701234567"
FAILING_TO = "+46701230000"
WAIT = 5.0  # upper bound for anything asynchronous; the tests normally finish far sooner


@pytest.fixture
def simulator() -> Iterator[SmsSimulator]:
    with SmsSimulator(delivery_delay=0.01, callback_backoff=0.01) as sim:
        yield sim


@pytest.fixture
def client(simulator: SmsSimulator) -> Iterator[ElksClient]:
    with ElksClient(base_url=f"{simulator.url}/a1", username=USERNAME, password=PASSWORD, timeout=WAIT) as c:
        yield c


class Receiver:
    """A webhook endpoint on loopback that records delivery-report POSTs and answers with given statuses."""

    def __init__(self, answers: list[int] | None = None) -> None:
        self.requests: queue.Queue[tuple[str, dict[str, str], str | None]] = queue.Queue()
        pending = list(answers or [])
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                received.put((self.path, dict(parse_qsl(body)), self.headers.get("Authorization")))
                self.send_response(pending.pop(0) if pending else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def next(self) -> tuple[str, dict[str, str], str | None]:
        return self.requests.get(timeout=WAIT)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def basic_auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# Sending, parts and cost


def test_send_single_part(client: ElksClient, simulator: SmsSimulator) -> None:
    before = datetime.now(UTC)
    sms = client.send_sms(sender="Ympa", to=TO, message="Dags för påfyllnadsdos!")

    assert sms.id is not None and sms.id.startswith("s")
    assert (sms.status, sms.sender, sms.to, sms.message) == ("created", "Ympa", TO, "Dags för påfyllnadsdos!")
    assert (sms.parts, sms.cost, sms.estimated_cost) == (1, 3500, None)
    assert sms.created is not None and sms.created.tzinfo is not None and sms.created >= before
    [recorded] = simulator.messages
    assert (recorded.id, recorded.to, recorded.parts, recorded.cost) == (sms.id, TO, 1, 3500)


@pytest.mark.parametrize(
    ("message", "parts"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        # åäöÅÄÖ are in the GSM 03.38 basic set, so Swedish text keeps the 160/153 limits.
        ("åäöÅÄÖ" * 26 + "éÉ!?", 1),
        ("å" * 161, 2),
        # Everything outside the basic set switches the whole message to UTF-16 (70 / 67 per part) - the euro
        # sign and the other GSM extension characters included, as 46elks' splitting page says.
        ("€" + "a" * 69, 1),
        ("€" + "a" * 70, 2),
        ("[" + "a" * 133, 2),
        ("{" + "a" * 134, 3),
        # Most emoji take two UTF-16 code units.
        ("😀" * 35, 1),
        ("😀" * 36, 2),
        # 134 units would fit two parts, but the emoji cannot straddle the first boundary.
        ("a" * 66 + "😀" + "a" * 66, 3),
    ],
)
def test_parts_and_cost(client: ElksClient, message: str, parts: int) -> None:
    assert sms_parts(message) == parts
    sms = client.send_sms(sender="Ympa", to=TO, message=message)
    assert (sms.parts, sms.cost) == (parts, parts * 3500)


def test_cost_follows_the_price_per_part() -> None:
    with (
        SmsSimulator(price_per_part=5200, delivery_delay=0) as sim,
        ElksClient(base_url=f"{sim.url}/a1", username=USERNAME, password=PASSWORD) as client,
    ):
        sms = client.send_sms(sender="+46766861004", to=TO, message="x" * 200)
    assert (sms.parts, sms.cost) == (2, 10400)


def test_dry_run_estimates_and_records_nothing(client: ElksClient, simulator: SmsSimulator) -> None:
    sms = client.send_sms(sender="Ympa", to=TO, message="😀" * 36, dry_run=True)

    assert (sms.id, sms.cost, sms.estimated_cost, sms.parts) == (None, None, 7000, 2)
    assert simulator.messages == []
    listing = httpx.get(f"{simulator.url}/a1/sms", auth=(USERNAME, PASSWORD), timeout=WAIT)
    assert listing.json() == {"data": []}


# Refusals


def test_wrong_credentials(simulator: SmsSimulator) -> None:
    with (
        ElksClient(base_url=f"{simulator.url}/a1", username=USERNAME, password="wrong") as client,
        pytest.raises(SmsAuthError, match="HTTP 401") as caught,
    ):
        client.send_sms(sender="Ympa", to=TO, message="Hej")
    assert not caught.value.retryable
    assert simulator.messages == []


@pytest.mark.parametrize(
    "to",
    ["0701234567", "+46 70 123 45 67", "46709876543", "+460701234567", "+4612", "+46701234567x", ""],
)
def test_invalid_recipient_is_refused_before_sending(
    client: ElksClient, simulator: SmsSimulator, to: str
) -> None:
    with pytest.raises(SmsRejected, match="nothing was sent") as caught:
        client.send_sms(sender="Ympa", to=to, message="Hej")
    assert caught.value.status_code is None
    assert not caught.value.retryable
    if to:
        assert to not in str(caught.value)  # the phone number is kept out of log messages
    assert simulator.messages == []


@pytest.mark.parametrize("sender", ["Yp", "1177Vard", "Ympa Vård", "Vaccinationen", "Ympa!", "+4612", ""])
def test_invalid_sender_is_refused_before_sending(
    client: ElksClient, simulator: SmsSimulator, sender: str
) -> None:
    with pytest.raises(SmsRejected, match="nothing was sent"):
        client.send_sms(sender=sender, to=TO, message="Hej")
    assert simulator.messages == []


def test_server_side_validation_reaches_the_caller(client: ElksClient, simulator: SmsSimulator) -> None:
    with pytest.raises(SmsRejected) as caught:
        client.send_sms(sender="Ympa", to=TO, message="")
    assert caught.value.status_code == 403
    assert caught.value.provider_message == "Missing parameter 'message'."
    assert "Missing parameter 'message'." in str(caught.value)

    with pytest.raises(SmsRejected, match="Invalid 'whendelivered'"):
        client.send_sms(sender="Ympa", to=TO, message="Hej", when_delivered="ftp://example.org/dlr")
    assert simulator.messages == []


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"from": "Ympa", "message": "Hej"}, "Missing parameter 'to'."),
        ({"from": "Ympa", "to": "0701234567", "message": "Hej"}, "Invalid 'to'"),
        ({"to": TO, "message": "Hej"}, "Missing parameter 'from'."),
        ({"from": "9Lives", "to": TO, "message": "Hej"}, "Invalid 'from'"),
        ({"from": "Ympa", "to": TO, "message": "Hej", "dryrun": "true"}, "Invalid 'dryrun'"),
        ({"from": "Ympa", "to": TO, "message": "Hej", "dontlog": "yes"}, "Invalid 'dontlog'"),
    ],
)
def test_simulator_validates_like_the_api(simulator: SmsSimulator, form: dict[str, str], reason: str) -> None:
    response = httpx.post(f"{simulator.url}/a1/sms", data=form, auth=(USERNAME, PASSWORD), timeout=WAIT)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text.startswith(reason)


def test_simulator_accepts_the_unencoded_plus_of_the_46elks_examples(simulator: SmsSimulator) -> None:
    # As in `curl -d to=+46701234567`: the plus arrives as a space.
    body = "from=Ympa&to=+46701234567&message=Hej"
    response = httpx.post(
        f"{simulator.url}/a1/sms",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=(USERNAME, PASSWORD),
        timeout=WAIT,
    )
    assert response.status_code == 200
    assert response.json()["to"] == TO
    listing = httpx.get(f"{simulator.url}/a1/sms?to=+46701234567", auth=(USERNAME, PASSWORD), timeout=WAIT)
    assert [sms["to"] for sms in listing.json()["data"]] == [TO]


def test_simulator_requires_a_form_body_and_credentials(simulator: SmsSimulator) -> None:
    as_json = httpx.post(
        f"{simulator.url}/a1/sms",
        json={"from": "Ympa", "to": TO, "message": "Hej"},
        auth=(USERNAME, PASSWORD),
    )
    assert as_json.status_code == 403
    for response in (httpx.get(f"{simulator.url}/a1/sms"), httpx.get(f"{simulator.url}/a1/sms/s1")):
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Basic")


def test_server_down() -> None:
    with (
        ElksClient(
            base_url=f"http://127.0.0.1:{free_port()}/a1", username=USERNAME, password=PASSWORD
        ) as client,
        pytest.raises(SmsUnavailable, match="Could not connect") as caught,
    ):
        client.send_sms(sender="Ympa", to=TO, message="Hej")
    assert caught.value.retryable
    assert not caught.value.may_have_been_sent


def test_plain_http_is_only_allowed_to_this_machine() -> None:
    with pytest.raises(ValueError, match="https"):
        ElksClient(base_url="http://api.46elks.com/a1", username=USERNAME, password=PASSWORD)


# How the client reads answers the simulator never gives


def fake_client(handler: Callable[[httpx.Request], httpx.Response]) -> ElksClient:
    return ElksClient(
        base_url="https://api.46elks.com/a1",
        username=USERNAME,
        password=PASSWORD,
        transport=httpx.MockTransport(handler),
    )


@pytest.mark.parametrize(
    ("answer", "error", "may_have_been_sent"),
    [
        (httpx.Response(500, text="Internal error"), SmsUnavailable, True),
        (httpx.Response(503, text="<html><body>Service   Unavailable</body></html>"), SmsUnavailable, True),
        (httpx.Response(429, text="Too many requests"), SmsUnavailable, False),
        (httpx.Response(403, text="Not enough credits"), SmsRejected, None),
        (httpx.Response(302, headers={"Location": "https://example.org/"}), SmsError, None),
    ],
)
def test_status_codes(answer: httpx.Response, error: type[SmsError], may_have_been_sent: bool | None) -> None:
    with fake_client(lambda request: answer) as client, pytest.raises(error) as caught:
        client.send_sms(sender="Ympa", to=TO, message="Hej")
    assert type(caught.value) is error
    assert caught.value.retryable is (error is SmsUnavailable)
    if isinstance(caught.value, SmsUnavailable):
        assert caught.value.may_have_been_sent is may_have_been_sent
    assert f"HTTP {answer.status_code}" in str(caught.value)


def test_the_request_follows_the_documented_shape() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "status": "created",
                "direction": "outgoing",
                "from": "Ympa",
                "created": "2018-07-13T13:57:23.741000",
                "parts": 1,
                "to": TO,
                "cost": 3500,
                "message": "Hej",
                "id": "s70df59406a1b4643b96f3f91e0bfb7b0",
            },
        )

    with fake_client(handler) as client:
        sms = client.send_sms(sender="Ympa", to=TO, message="Hej", when_delivered="https://ympa.example/dlr")
    [request] = seen
    assert (request.method, str(request.url)) == ("POST", "https://api.46elks.com/a1/sms")
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["authorization"] == basic_auth(USERNAME, PASSWORD)
    assert dict(parse_qsl(request.content.decode())) == {
        "from": "Ympa",
        "to": TO,
        "message": "Hej",
        "whendelivered": "https://ympa.example/dlr",
    }
    assert sms.created == datetime(2018, 7, 13, 13, 57, 23, 741000, tzinfo=UTC)


@pytest.mark.parametrize(
    "exception", [httpx.ReadTimeout("timed out"), httpx.RemoteProtocolError("peer closed connection")]
)
def test_failures_after_sending_may_have_sent(exception: httpx.TransportError) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exception

    with fake_client(handler) as client:
        with pytest.raises(SmsUnavailable) as caught:
            client.send_sms(sender="Ympa", to=TO, message="Hej")
        assert caught.value.may_have_been_sent
        with pytest.raises(SmsUnavailable) as caught:
            client.get_sms("s1")
        assert not caught.value.may_have_been_sent  # a GET changes nothing


def test_connect_timeout_has_not_sent() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out")

    with fake_client(handler) as client, pytest.raises(SmsUnavailable) as caught:
        client.send_sms(sender="Ympa", to=TO, message="Hej")
    assert not caught.value.may_have_been_sent


@pytest.mark.parametrize(
    "body",
    [b"<html>OK</html>", b"[]", b'{"status": "queued", "id": "s1"}', b'{"status": "created", "to": "x"}'],
)
def test_unreadable_success_is_not_retryable(body: bytes) -> None:
    # A 2xx answer means the SMS probably went out; a retry could send it twice.
    with (
        fake_client(lambda request: httpx.Response(200, content=body)) as client,
        pytest.raises(SmsError, match="probably been sent") as caught,
    ):
        client.send_sms(sender="Ympa", to=TO, message="Hej")
    assert not caught.value.retryable


# Looking messages up


def test_get_sms_follows_the_status(client: ElksClient) -> None:
    sent = client.send_sms(sender="Ympa", to=TO, message="Hej")
    assert sent.id is not None
    wait_for(lambda: client.get_sms(sent.id or "").status == "delivered")

    sms = client.get_sms(sent.id)
    assert (sms.id, sms.sender, sms.to, sms.message, sms.cost) == (sent.id, "Ympa", TO, "Hej", 3500)
    assert sms.parts is None  # the get-by-id answer does not document "parts"
    assert sms.created == sent.created
    assert sms.delivered_at is not None and sms.created is not None
    assert sms.delivered_at.tzinfo is not None and sms.delivered_at >= sms.created.replace(microsecond=0)


def test_get_unknown_sms(client: ElksClient) -> None:
    with pytest.raises(SmsRejected) as caught:
        client.get_sms("s0000/../../sms")
    assert caught.value.status_code == 404


def test_history_is_paged_newest_first(simulator: SmsSimulator, client: ElksClient) -> None:
    ids = [client.send_sms(sender="Ympa", to=TO, message=f"Nr {n}").id for n in range(5)]
    client.send_sms(sender="Ympa", to="+46709876543", message="Someone else")

    def page(**params: str) -> dict[str, object]:
        response = httpx.get(
            f"{simulator.url}/a1/sms", params=params, auth=(USERNAME, PASSWORD), timeout=WAIT
        )
        assert response.status_code == 200
        data: dict[str, object] = response.json()
        return data

    seen: list[object] = []
    params = {"limit": "2", "to": TO}
    while True:
        result = page(**params)
        entries = result["data"]
        assert isinstance(entries, list)
        seen += [entry["id"] for entry in entries]
        if "next" not in result:
            break
        params["start"] = str(result["next"])
    assert seen == ids[::-1]
    everything = page()["data"]
    assert isinstance(everything, list) and len(everything) == 6


def test_dontlog_keeps_the_text_out(simulator: SmsSimulator, client: ElksClient) -> None:
    form = {"from": "Ympa", "to": TO, "message": "Personnummer 19121212-1212", "dontlog": "message"}
    response = httpx.post(f"{simulator.url}/a1/sms", data=form, auth=(USERNAME, PASSWORD), timeout=WAIT)
    assert response.status_code == 200 and "message" not in response.json()
    sms = client.get_sms(response.json()["id"])
    assert sms.message is None
    assert "19121212" not in httpx.get(f"{simulator.url}/", timeout=WAIT).text


# Delivery reports


def test_delivery_report(client: ElksClient, receiver: Receiver) -> None:
    sms = client.send_sms(sender="Ympa", to=TO, message="Hej", when_delivered=f"{receiver.url}/dlr?key=k1")

    path, form, _ = receiver.next()
    assert (path, form) == ("/dlr?key=k1", {"id": sms.id, "status": "sent"})
    assert parse_delivery_report(form) == DeliveryReport(id=sms.id or "", status="sent", delivered_at=None)

    path, form, _ = receiver.next()
    report = ElksClient.parse_delivery_report(form)
    assert (report.id, report.status) == (sms.id, "delivered")
    assert report.delivered_at is not None and report.delivered_at.tzinfo is UTC
    assert client.get_sms(report.id).status == "delivered"


def test_numbers_ending_in_0000_fail(client: ElksClient, receiver: Receiver) -> None:
    sms = client.send_sms(sender="Ympa", to=FAILING_TO, message="Hej", when_delivered=receiver.url)

    assert receiver.next()[1]["status"] == "sent"
    _, form, _ = receiver.next()
    assert form == {"id": sms.id, "status": "failed"}
    assert parse_delivery_report(form).delivered_at is None
    assert client.get_sms(sms.id or "").status == "failed"


def test_callbacks_are_retried(simulator: SmsSimulator, client: ElksClient) -> None:
    receiver = Receiver(answers=[500, 205])  # 205 is 2xx but outside the documented 200-204
    try:
        sms = client.send_sms(sender="Ympa", to=TO, message="Hej", when_delivered=receiver.url)
        attempts = [receiver.next()[1] for _ in range(3)]
        assert attempts == [{"id": sms.id, "status": "sent"}] * 3
        assert receiver.next()[1]["status"] == "delivered"
        wait_for(lambda: (simulator.messages[0].last_callback or "").startswith("delivered: accepted"))
    finally:
        receiver.close()


def test_callbacks_carry_credentials_from_the_url(client: ElksClient, receiver: Receiver) -> None:
    url = receiver.url.replace("http://", "http://dlr:s%C3%A4ker@")
    client.send_sms(sender="Ympa", to=TO, message="Hej", when_delivered=url)
    assert receiver.next()[2] == basic_auth("dlr", "säker")


def test_an_unreachable_callback_gives_up(simulator: SmsSimulator, client: ElksClient) -> None:
    client.send_sms(sender="Ympa", to=TO, message="Hej", when_delivered=f"http://127.0.0.1:{free_port()}/")
    wait_for(lambda: "gave up" in (simulator.messages[0].last_callback or ""))


@pytest.mark.parametrize(
    ("form", "match"),
    [
        ({"status": "delivered"}, "no SMS id"),
        ({"id": "s1", "status": "queued"}, "status 'queued'"),
        ({"id": "s1"}, "status None"),
        ({"id": "s1", "status": "delivered", "delivered": "yesterday"}, "unreadable delivery time"),
    ],
)
def test_malformed_delivery_reports(form: dict[str, str], match: str) -> None:
    with pytest.raises(InvalidDeliveryReport, match=match):
        parse_delivery_report(form)


@pytest.mark.parametrize(
    "raw",
    [
        "2017-03-14T09:52:10Z",
        "2017-03-14T09:52:10",
        "2017-03-14T09:52:10.000000",
        "2017-03-14T10:52:10+01:00",
    ],
)
def test_timestamps_are_utc(raw: str) -> None:
    assert parse_timestamp(raw) == datetime(2017, 3, 14, 9, 52, 10, tzinfo=UTC)


# The developer tools


def test_message_page_escapes_text(client: ElksClient, simulator: SmsSimulator) -> None:
    client.send_sms(sender="Ympa", to=TO, message="<script>alert('x')</script> & <b>")
    client.send_sms(sender="Ympa", to=TO, message="second")

    response = httpx.get(f"{simulator.url}/", timeout=WAIT)
    assert response.status_code == 200
    page = response.text
    assert "<script>" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;" in page
    assert page.index("second") < page.index("&lt;script&gt;")  # newest first
    assert '<meta http-equiv="refresh" content="2">' in page
    assert "default-src 'none'" in response.headers["content-security-policy"]


def test_messages_json_and_reset(client: ElksClient, simulator: SmsSimulator) -> None:
    first = client.send_sms(sender="Ympa", to=TO, message="one")
    second = client.send_sms(sender="Ympa", to=TO, message="two")

    listing = httpx.get(f"{simulator.url}/messages.json", timeout=WAIT).json()
    assert [m["id"] for m in listing["messages"]] == [second.id, first.id]
    assert listing["messages"][0]["cost"] == 3500

    assert httpx.post(f"{simulator.url}/reset", timeout=WAIT).json() == {"cleared": 2}
    assert simulator.messages == []
    assert httpx.get(f"{simulator.url}/messages.json", timeout=WAIT).json() == {"messages": []}
