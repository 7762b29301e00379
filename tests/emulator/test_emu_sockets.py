"""QI sockets over real loopback TCP: open, send, receive, close, and the rules drivers trip on."""

from __future__ import annotations

import socket

from modem.emulator import Emulator

from .atclient import AtHost, TcpServer, eventually, modem, open_socket, session

AWKWARD = b'\x00\x1a\x1b\r\nOK\r\n+QIURC: "recv",0\r\nERROR\r\n\xff'


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_qiopen_ok_then_async_urc(
    emu_host: tuple[Emulator, AtHost], server: TcpServer
) -> None:
    emu, host = emu_host
    assert await host.cmd('AT+QICSGP=1,1,"internet","","",1') == b"\r\nOK\r\n"
    assert await host.cmd("AT+QICSGP=1") == b'\r\n+QICSGP: 1,"internet","","",1\r\n\r\nOK\r\n'
    assert await host.cmd("AT+QIACT=1") == b"\r\nOK\r\n"
    qiact = await host.cmd("AT+QIACT?")
    assert qiact.startswith(b'\r\n+QIACT: 1,1,1,"10.') and qiact.endswith(b'"\r\n\r\nOK\r\n')
    host.write(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{server.port},0,0\r'.encode())
    await host.expect(b"\r\nOK\r\n")
    await host.expect(b"\r\n+QIOPEN: 0,0\r\n")
    peer = await server.accepted()
    state = await host.cmd("AT+QISTATE=1,0")
    assert state.startswith(f'\r\n+QISTATE: 0,"TCP","127.0.0.1",{server.port},'.encode())
    assert state.endswith(b',2,1,0,0,"uart1"\r\n\r\nOK\r\n')
    assert modem(emu).state.sockets[0].state == 2
    peer.close()


async def test_qiopen_without_active_context_reports_561(
    emu_host: tuple[Emulator, AtHost], server: TcpServer
) -> None:
    _, host = emu_host
    host.write(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{server.port},0,0\r'.encode())
    await host.expect(b"\r\nOK\r\n\r\n+QIOPEN: 0,561\r\n")


async def test_closed_port_gives_566(emu_host: tuple[Emulator, AtHost], server: TcpServer) -> None:
    _, host = emu_host
    await open_socket(host, server, conn_id=1)  # also activates the context
    host.write(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{closed_port()},0,0\r'.encode())
    await host.expect(b"\r\nOK\r\n\r\n+QIOPEN: 0,566\r\n")
    assert (
        await host.cmd("AT+QIGETERROR")
        == b"\r\n+QIGETERROR: 566,socket connect failed\r\n\r\nOK\r\n"
    )
    assert await host.cmd("AT+QISTATE=1,0") == b"\r\nOK\r\n"  # the ID is free again


async def test_malformed_qiopen_is_error_552(emu_host: tuple[Emulator, AtHost]) -> None:
    _, host = emu_host
    assert await host.cmd('AT+QIOPEN=1,12,"TCP","127.0.0.1",80,0,0') == b"\r\nERROR\r\n"
    assert (
        await host.cmd("AT+QIGETERROR") == b"\r\n+QIGETERROR: 552,invalid parameters\r\n\r\nOK\r\n"
    )
    assert await host.cmd('AT+QIOPEN=1,0,"TCP","127.0.0.1",80,0,1') == b"\r\nERROR\r\n"
    assert (
        await host.cmd("AT+QIGETERROR")
        == b"\r\n+QIGETERROR: 555,operation not supported\r\n\r\nOK\r\n"
    )


async def test_qisend_binary_payload_forwarded_intact(
    emu_host: tuple[Emulator, AtHost], server: TcpServer
) -> None:
    _, host = emu_host
    peer = await open_socket(host, server)
    host.write(f"AT+QISEND=0,{len(AWKWARD)}\r".encode())
    await host.expect(b"\r\n>")  # EC200U default prompt: no trailing space
    host.write(AWKWARD)
    await host.expect(AWKWARD)  # AT+QISDE=1 by default: the payload is echoed
    await host.expect(b"\r\nSEND OK\r\n")
    assert await peer.read_exactly(len(AWKWARD)) == AWKWARD
    assert await host.cmd("AT+QISDE=0") == b"\r\nOK\r\n"
    host.write(b"AT+QISEND=0,3\r")
    await host.expect(b"\r\n>")
    host.write(b"\x1a\x1a\x1a")
    await host.expect(b"\r\nSEND OK\r\n")
    assert await peer.read_exactly(3) == b"\x1a\x1a\x1a"
    total = len(AWKWARD) + 3
    assert (
        await host.cmd("AT+QISEND=0,0") == f"\r\n+QISEND: {total},{total},0\r\n\r\nOK\r\n".encode()
    )


async def test_prompt_is_configurable(server: TcpServer) -> None:
    async with session(prompt=b"\r\n> ") as (_, host):
        peer = await open_socket(host, server)
        assert await host.cmd("AT+QISDE=0") == b"\r\nOK\r\n"
        host.write(b"AT+QISEND=0,1\r")
        await host.expect(b"\r\n> ")
        host.write(b"x")
        await host.expect(b"\r\nSEND OK\r\n")
        assert await host.cmd('AT+QICFG="formatcfg",1') == b"\r\nOK\r\n"
        host.write(b"AT+QISEND=0,1\r")
        await host.expect(b"\r\n>\r\n")
        host.write(b"y")
        await host.expect(b"\r\nSEND OK\r\n")
        assert await peer.read_exactly(2) == b"xy"


async def test_qisend_length_limits(emu_host: tuple[Emulator, AtHost], server: TcpServer) -> None:
    _, host = emu_host
    peer = await open_socket(host, server)
    assert await host.cmd("AT+QISEND=0,1461") == b"\r\nERROR\r\n"
    assert (
        await host.cmd("AT+QIGETERROR") == b"\r\n+QIGETERROR: 552,invalid parameters\r\n\r\nOK\r\n"
    )
    assert await host.cmd("AT+QISDE=0") == b"\r\nOK\r\n"
    host.write(b"AT+QISEND=0,1460\r")
    await host.expect(b"\r\n>")
    host.write(bytes(range(256)) * 5 + b"z" * 180)
    await host.expect(b"\r\nSEND OK\r\n")
    assert await peer.read_exactly(1460) == bytes(range(256)) * 5 + b"z" * 180


async def test_qisend_payload_timeout_and_early_bytes_are_commands(
    emu_host: tuple[Emulator, AtHost], server: TcpServer
) -> None:
    _, host = emu_host
    await open_socket(host, server)
    assert await host.cmd('AT+QICFG="qisend/timeout",1') == b"\r\nOK\r\n"
    assert await host.cmd('AT+QICFG="qisend/timeout"') == (
        b'\r\n+QICFG: "qisend/timeout",1\r\n\r\nOK\r\n'
    )
    # A driver that writes before the prompt: those bytes are a command line, not payload.
    host.write(b"AT+QISEND=0,3\rAT\r")
    await host.expect(b"\r\n>")
    await host.expect(b"\r\nERROR\r\n")  # no payload within qisend/timeout
    await host.expect(b"\r\nOK\r\n")  # ... and then "AT" ran as a command
    assert (
        await host.cmd("AT+QIGETERROR") == b"\r\n+QIGETERROR: 569,operation timeout\r\n\r\nOK\r\n"
    )


async def test_ctrl_z_form_sends_and_esc_cancels(
    emu_host: tuple[Emulator, AtHost], server: TcpServer
) -> None:
    _, host = emu_host
    peer = await open_socket(host, server)
    assert await host.cmd("AT+QISDE=0") == b"\r\nOK\r\n"
    host.write(b"AT+QISEND=0\r")
    await host.expect(b"\r\n>")
    host.write(b"abc\x1b")
    await host.expect(b"\r\nERROR\r\n")
    host.write(b"AT+QISEND=0\r")
    await host.expect(b"\r\n>")
    host.write(b"hello\x1adef")  # a stray 0x1A truncates the message: misuse is visible
    await host.expect(b"\r\nSEND OK\r\n")
    assert await peer.read_exactly(5) == b"hello"
    assert await host.cmd("") == b"\r\nERROR\r\n"  # "def" + CR became a command line


async def test_qird_empty_and_exact_payload(
    emu_host: tuple[Emulator, AtHost], server: TcpServer
) -> None:
    _, host = emu_host
    peer = await open_socket(host, server)
    assert await host.cmd("AT+QIRD=0,1500") == b"\r\n+QIRD: 0\r\n\r\nOK\r\n"
    await peer.send(AWKWARD)
    await host.expect(b'\r\n+QIURC: "recv",0\r\n')
    host.write(b"AT+QIRD=0,1500\r")
    n = len(AWKWARD)
    await host.expect(f"\r\n+QIRD: {n}\r\n".encode() + AWKWARD + b"\r\n\r\nOK\r\n")
    assert await host.cmd("AT+QIRD=0,0") == f"\r\n+QIRD: {n},{n},0\r\n\r\nOK\r\n".encode()
    assert await host.cmd("AT+QIRD=0,1501") == b"\r\nERROR\r\n"
    assert await host.cmd("AT+QIRD=5,10") == b"\r\nERROR\r\n"  # no such socket


async def test_one_recv_urc_until_drained(
    emu_host: tuple[Emulator, AtHost], server: TcpServer
) -> None:
    emu, host = emu_host
    sock_state = modem(emu).state
    peer = await open_socket(host, server)

    async def peer_sends(data: bytes, total: int) -> None:
        await peer.send(data)
        await eventually(lambda: sock_state.sockets[0].total_rx == total, f"{total} bytes buffered")

    await peer_sends(b"aaaa", 4)
    await host.expect(b'\r\n+QIURC: "recv",0\r\n')
    await peer_sends(b"bbbb", 8)  # buffer was not empty: no second URC
    assert await host.cmd("AT") == b"\r\nOK\r\n"
    assert await host.cmd("AT+QIRD=0,6") == b"\r\n+QIRD: 6\r\naaaabb\r\n\r\nOK\r\n"
    await peer_sends(b"cccc", 12)  # partially read is still not drained: no URC
    assert await host.cmd("AT") == b"\r\nOK\r\n"
    assert await host.cmd("AT+QIRD=0,1500") == b"\r\n+QIRD: 6\r\nbbcccc\r\n\r\nOK\r\n"
    await peer_sends(b"dd", 14)  # drained to zero: exactly one new URC
    await host.expect(b'\r\n+QIURC: "recv",0\r\n')
    await peer_sends(b"ee", 16)
    assert await host.cmd("AT+QIRD=0,1500") == b"\r\n+QIRD: 4\r\nddee\r\n\r\nOK\r\n"
    assert await host.cmd("AT+QIRD=0,1500") == b"\r\n+QIRD: 0\r\n\r\nOK\r\n"


async def test_recvind_appends_length(emu_host: tuple[Emulator, AtHost], server: TcpServer) -> None:
    _, host = emu_host
    assert await host.cmd('AT+QICFG="recvind",1') == b"\r\nOK\r\n"
    peer = await open_socket(host, server)
    await peer.send(b"12345")
    await host.expect(b'\r\n+QIURC: "recv",0,5\r\n')


async def test_peer_close_keeps_data_and_id_until_qiclose(
    emu_host: tuple[Emulator, AtHost], server: TcpServer
) -> None:
    _, host = emu_host
    peer = await open_socket(host, server)
    await peer.send(b"last words")
    peer.close()
    await host.expect(b'\r\n+QIURC: "recv",0\r\n\r\n+QIURC: "closed",0\r\n')
    assert (await host.cmd("AT+QISTATE=1,0")).endswith(b',4,1,0,0,"uart1"\r\n\r\nOK\r\n')
    assert await host.cmd("AT+QIRD=0,1500") == b"\r\n+QIRD: 10\r\nlast words\r\n\r\nOK\r\n"
    assert await host.cmd("AT+QISEND=0,1") == b"\r\nERROR\r\n"
    assert (
        await host.cmd("AT+QIGETERROR")
        == b"\r\n+QIGETERROR: 567,socket has been closed\r\n\r\nOK\r\n"
    )
    host.write(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{server.port},0,0\r'.encode())
    await host.expect(b"\r\nOK\r\n\r\n+QIOPEN: 0,563\r\n")
    assert await host.cmd("AT+QIGETERROR") == (
        b"\r\n+QIGETERROR: 563,socket identity has been used\r\n\r\nOK\r\n"
    )
    assert await host.cmd("AT+QICLOSE=0") == b"\r\nOK\r\n"
    assert await host.cmd("AT+QISTATE?") == b"\r\nOK\r\n"
    host.write(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{server.port},0,0\r'.encode())
    await host.expect(b"\r\nOK\r\n\r\n+QIOPEN: 0,0\r\n")
    (await server.accepted()).close()


async def test_qiclose_and_qideact_close_the_tcp_connection(
    emu_host: tuple[Emulator, AtHost], server: TcpServer
) -> None:
    _, host = emu_host
    first = await open_socket(host, server, conn_id=0)
    second = await open_socket(host, server, conn_id=3)
    assert await host.cmd("AT+QICLOSE=0") == b"\r\nOK\r\n"
    assert await first.closed_by_modem()
    assert await host.cmd("AT+QIDEACT=1") == b"\r\nOK\r\n"
    assert await second.closed_by_modem()
    assert await host.cmd("AT+QIACT?") == b"\r\nOK\r\n"
    assert await host.cmd("AT+QISTATE?") == b"\r\nOK\r\n"


async def test_dns_and_ping_on_loopback(emu_host: tuple[Emulator, AtHost]) -> None:
    _, host = emu_host
    assert await host.cmd('AT+QIDNSGIP=1,"localhost"') == b"\r\nERROR\r\n"  # no context yet
    assert await host.cmd('AT+QICSGP=1,1,"internet"') == b"\r\nOK\r\n"
    assert await host.cmd("AT+QIACT=1") == b"\r\nOK\r\n"
    host.write(b'AT+QIDNSGIP=1,"localhost"\r')
    await host.expect(
        b'\r\nOK\r\n\r\n+QIURC: "dnsgip",0,1,600\r\n\r\n+QIURC: "dnsgip","127.0.0.1"\r\n'
    )
    host.write(b'AT+QPING=1,"127.0.0.1",2,2\r')
    await host.expect(b"\r\nOK\r\n")
    for _ in range(2):
        reply = await host.read_until(b"\r\n+QPING: ")
        assert reply == b"\r\n+QPING: "
        line = await host.read_until(b"\r\n")
        assert line.startswith(b'0,"127.0.0.1",32,') and line.endswith(b",64\r\n")
    assert await host.read_until(b"\r\n") == b"\r\n"
    summary = await host.read_until(b"\r\n")
    assert summary.startswith(b"+QPING: 0,2,2,0,")


async def test_spec_log_session_replays(server: TcpServer) -> None:
    """The EC200U WebSocket session from shared/seeds/000 (echo on, roaming, Ctrl+Z send)."""
    upgrade = (
        b"GET /JIOTESTING001 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: gXWDjiKcOBqyTA2v/vFk6w==\r\n"
        b"Sec-WebSocket-Protocol: ocpp1.6\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    switching = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: TuNHNYAVKuHKr8iSI6bmJmvayH4=\r\n"
        b"Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
    )
    async with session(echo=True, profile="roaming", prompt=b"\r\n> ") as (_, host):
        assert await host.cmd("AT+CGREG?") == b"AT+CGREG?\r\r\n+CGREG: 0,5\r\n\r\nOK\r\n"
        qicsgp = b'AT+QICSGP=1,1,"airtelgprs.com","", "",1'
        assert await host.cmd(qicsgp) == qicsgp + b"\r\r\nOK\r\n"
        assert await host.cmd("AT+QIACT?") == b"AT+QIACT?\r\r\nOK\r\n"
        assert await host.cmd("AT+QIACT=1") == b"AT+QIACT=1\r\r\nOK\r\n"
        assert (await host.cmd("AT+QIACT?")).startswith(b'AT+QIACT?\r\r\n+QIACT: 1,1,1,"10.')
        qiopen = f'AT+QIOPEN=1,1,"TCP","127.0.0.1",{server.port},0,0'.encode()
        host.write(qiopen + b"\r")
        await host.expect(qiopen + b"\r\r\nOK\r\n\r\n+QIOPEN: 1,0\r\n")
        peer = await server.accepted()
        host.write(b"AT+QISEND=1\r")
        await host.expect(b"AT+QISEND=1\r\r\n> ")
        host.write(upgrade + b"\x1a")
        await host.expect(upgrade + b"\r\nSEND OK\r\n")
        assert await peer.read_exactly(len(upgrade)) == upgrade
        await peer.send(switching)
        await host.expect(b'\r\n+QIURC: "recv",1\r\n')
        host.write(b"AT+QIRD=1,1500\r")
        await host.expect(
            f"AT+QIRD=1,1500\r\r\n+QIRD: {len(switching)}\r\n".encode()
            + switching
            + b"\r\n\r\nOK\r\n"
        )
