"""The h11 client: what it sends, and every response split at every byte.

A scripted byte stream hands the response over in the chunks a test chooses
(as ``AT+QIRD`` would), so the parser is shown resumable at every split; one
test runs over a real TCP socket against the standard library's HTTP server.
"""

from __future__ import annotations

import pytest

from chargepoint.transport.http11 import HEAD_MAX, HttpClient, HttpTarget
from chargepoint.transport.tcp import TcpByteStream
from chargepoint.transport.transfer import TransferError, TransferTooLarge
from modem.stream import ByteStream, StreamClosed

from .conftest import FileServer

# A body a line scanner would cut or misread: AT result codes, a URC, Ctrl+Z, a prompt.
BODY = b'\x7fELF\r\nOK\r\n+QIURC: "closed",1\r\n\x1a\x1b\r\n> \r\n\x00\xff' * 3
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
    b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(BODY)
) + BODY
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"%x\r\n" % 40
    + BODY[:40]
    + b"\r\n%x\r\n" % (len(BODY) - 40)
    + BODY[40:]
    + b"\r\n0\r\n\r\n"
)


class ScriptedStream:
    """A :class:`ByteStream` that answers reads from a list of chunks, then EOF."""

    def __init__(self, chunks: list[bytes], fail_with: str | None = None) -> None:
        self.chunks = [c for c in chunks if c]
        self.fail_with = fail_with
        self.written = bytearray()
        self.closed = False

    async def read(self) -> bytes:
        if self.chunks:
            return self.chunks.pop(0)
        if self.fail_with is not None:
            raise StreamClosed(self.fail_with)
        return b""

    async def write(self, data: bytes) -> None:
        self.written += data

    async def close(self) -> None:
        self.closed = True


def client_for(*streams: ScriptedStream) -> tuple[HttpClient, list[HttpTarget]]:
    opened: list[HttpTarget] = []
    queue = list(streams)

    async def open_stream(target: HttpTarget) -> ByteStream:
        opened.append(target)
        return queue.pop(0)

    return HttpClient(open_stream, idle_timeout=5), opened


def request_head(stream: ScriptedStream) -> tuple[bytes, list[tuple[str, str]], bytes]:
    head, _, body = bytes(stream.written).partition(b"\r\n\r\n")
    line, *fields = head.decode("latin-1").split("\r\n")
    headers = [(k.strip(), v.strip()) for k, v in (f.split(":", 1) for f in fields)]
    return line.encode(), headers, body


@pytest.mark.parametrize("split", range(len(RESPONSE) + 1))
async def test_download_at_every_split(split: int) -> None:
    stream = ScriptedStream([RESPONSE[:split], RESPONSE[split:]])
    client, _ = client_for(stream)
    assert await client.get("http://fw.example:8080/img/v2.bin?x=1", 10_000) == BODY
    assert stream.closed


@pytest.mark.parametrize("split", range(len(CHUNKED) + 1))
async def test_chunked_download_at_every_split(split: int) -> None:
    stream = ScriptedStream([CHUNKED[:split], CHUNKED[split:]])
    client, _ = client_for(stream)
    assert await client.get("http://fw.example/v2.bin", 10_000) == BODY


async def test_one_byte_at_a_time() -> None:
    stream = ScriptedStream([RESPONSE[i : i + 1] for i in range(len(RESPONSE))])
    client, _ = client_for(stream)
    assert await client.get("http://fw.example/v2.bin", 10_000) == BODY


async def test_the_request_has_one_host_with_its_port_and_asks_to_close() -> None:
    stream = ScriptedStream([RESPONSE])
    client, _ = client_for(stream)
    await client.get("http://fw.example:8080/img/v2.bin?x=1", 10_000)
    line, headers, _ = request_head(stream)
    assert line == b"GET /img/v2.bin?x=1 HTTP/1.1"
    assert [v for k, v in headers if k.lower() == "host"] == ["fw.example:8080"]
    assert ("Connection", "close") in headers


async def test_default_port_is_not_in_host() -> None:
    stream = ScriptedStream([RESPONSE])
    client, _ = client_for(stream)
    await client.get("http://fw.example/v2.bin", 10_000)
    assert ("Host", "fw.example") in request_head(stream)[1]


@pytest.mark.parametrize("cut", [0, 1, len(BODY) // 2, len(BODY) - 1])
async def test_a_body_shorter_than_its_length_is_cut(cut: int) -> None:
    head = len(RESPONSE) - len(BODY)
    stream = ScriptedStream([RESPONSE[: head + cut]])
    client, _ = client_for(stream)
    with pytest.raises(TransferError, match=f"cut after {cut} of {len(BODY)} bytes"):
        await client.get("http://fw.example/v2.bin", 10_000)


async def test_a_link_lost_mid_body_names_the_reason() -> None:
    stream = ScriptedStream([RESPONSE[:-10]], fail_with='+QIURC: "pdpdeact",1')
    client, _ = client_for(stream)
    with pytest.raises(TransferError, match=r"cut after \d+ of \d+ bytes .*pdpdeact"):
        await client.get("http://fw.example/v2.bin", 10_000)


async def test_chunked_body_cut() -> None:
    end_of_first_chunk = CHUNKED.index(b"\r\n%x\r\n" % (len(BODY) - 40))
    stream = ScriptedStream([CHUNKED[:end_of_first_chunk]])
    client, _ = client_for(stream)
    with pytest.raises(TransferError, match=r"cut after 40 bytes"):
        await client.get("http://fw.example/v2.bin", 10_000)


async def test_too_large_from_content_length_reads_no_body() -> None:
    head = RESPONSE[: len(RESPONSE) - len(BODY)]
    stream = ScriptedStream([head, BODY])
    client, _ = client_for(stream)
    with pytest.raises(TransferTooLarge, match=f"{len(BODY)} bytes, more than the 10 bytes"):
        await client.get("http://fw.example/v2.bin", 10)
    assert stream.chunks == [BODY]  # refused before the body was read
    assert stream.closed


async def test_too_large_chunked_stops_while_reading() -> None:
    stream = ScriptedStream([CHUNKED])
    client, _ = client_for(stream)
    with pytest.raises(TransferTooLarge, match="more than the 50 bytes"):
        await client.get("http://fw.example/v2.bin", 50)


async def test_an_error_status_is_named() -> None:
    stream = ScriptedStream([b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!"])
    client, _ = client_for(stream)
    with pytest.raises(TransferError, match=r"http://fw.example/v2.bin: HTTP 404 Not Found"):
        await client.get("http://fw.example/v2.bin", 10_000)


@pytest.mark.parametrize("piece", [1500, 3 * HEAD_MAX])
async def test_a_head_over_the_bound_is_refused(piece: int) -> None:
    huge = b"HTTP/1.1 200 OK\r\nX-Junk: " + b"a" * HEAD_MAX + b"\r\n\r\n"
    stream = ScriptedStream([huge[i : i + piece] for i in range(0, len(huge), piece)])
    client, _ = client_for(stream)
    with pytest.raises(TransferError, match=f"response head larger than {HEAD_MAX} bytes"):
        await client.get("http://fw.example/v2.bin", 10_000)


async def test_no_response_at_all() -> None:
    client, _ = client_for(ScriptedStream([]))
    with pytest.raises(TransferError, match="closed the connection without a response"):
        await client.get("http://fw.example/v2.bin", 10_000)


async def test_redirects_are_followed_and_bounded() -> None:
    moved = (
        b"HTTP/1.1 302 Found\r\nLocation: http://cdn.example/v2.bin\r\nContent-Length: 0\r\n\r\n"
    )
    client, opened = client_for(ScriptedStream([moved]), ScriptedStream([RESPONSE]))
    assert await client.get("http://fw.example/v2.bin", 10_000) == BODY
    assert [t.where for t in opened] == ["http://fw.example/v2.bin", "http://cdn.example/v2.bin"]
    loop = b"HTTP/1.1 301 Moved\r\nLocation: /v2.bin\r\nContent-Length: 0\r\n\r\n"
    client, _ = client_for(*(ScriptedStream([loop]) for _ in range(4)))
    with pytest.raises(TransferError, match="more than 3 redirects"):
        await client.get("http://fw.example/v2.bin", 10_000)


async def test_put_appends_the_file_name_and_frames_by_length() -> None:
    stream = ScriptedStream([b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"])
    client, _ = client_for(stream)
    await client.put("http://csms.example:9000/diag/", "diag 1.zip", BODY)
    line, headers, body = request_head(stream)
    assert line == b"PUT /diag/diag%201.zip HTTP/1.1"
    assert ("Content-Length", str(len(BODY))) in headers
    assert [v for k, v in headers if k.lower() == "host"] == ["csms.example:9000"]
    assert body == BODY


async def test_put_refused_is_named() -> None:
    stream = ScriptedStream([b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n"])
    client, _ = client_for(stream)
    with pytest.raises(TransferError, match="HTTP 413 Payload Too Large"):
        await client.put("http://csms.example/diag", "d.zip", b"x" * 100)


async def test_credentials_go_in_basic_auth_never_in_a_message() -> None:
    stream = ScriptedStream([b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"])
    client, _ = client_for(stream)
    with pytest.raises(TransferError) as caught:
        await client.get("http://tech:s3cret@fw.example/v2.bin", 10_000)
    assert "s3cret" not in caught.value.reason and "check the credentials" in caught.value.reason
    assert ("Authorization", "Basic dGVjaDpzM2NyZXQ=") in request_head(stream)[1]
    assert "s3cret" not in repr(HttpTarget.parse("http://tech:s3cret@fw.example/"))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://fw.example/x", "not an http:// or https:// URL"),
        ("http:///x", "without a host"),
        ("http://fw.example:99999/x", "bad port"),
        ("http://fw.example/" + "a" * 3000, "URL of 3018 characters"),
    ],
)
def test_bad_urls_are_named(url: str, message: str) -> None:
    with pytest.raises(TransferError, match=message):
        HttpTarget.parse(url)


async def test_over_a_real_socket_to_a_real_server(file_server: FileServer) -> None:
    image = bytes(range(256)) * 400  # 100 kB
    file_server.files["/fw/v2.bin"] = image

    async def open_stream(target: HttpTarget) -> ByteStream:
        return await TcpByteStream.open(target.host, target.port)

    client = HttpClient(open_stream, idle_timeout=10)
    assert await client.get(f"{file_server.url}/fw/v2.bin", len(image)) == image
    await client.put(f"{file_server.url}/up", "log.txt", b"hello")
    assert file_server.uploads == {"/up/log.txt": b"hello"}
    for seen in file_server.seen:
        assert seen.header_values("Host") == [file_server.url.removeprefix("http://")]


async def test_a_corrupt_chunked_body_is_not_called_cut() -> None:
    bad = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n"
    client, _ = client_for(ScriptedStream([bad]))
    with pytest.raises(TransferError, match="bad HTTP body after 5 bytes"):
        await client.get("http://fw.example/v2.bin", 10_000)


def test_spaces_and_non_ascii_are_percent_encoded() -> None:
    target = HttpTarget.parse("http://fw.example/images/v 2é.bin?name=a b&x=%41")
    assert target.target == "/images/v%202%C3%A9.bin?name=a%20b&x=%41"
