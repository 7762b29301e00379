"""Field profiles: each situation answers the diagnostic commands consistently."""

from __future__ import annotations

from .atclient import TcpServer, open_socket, session

ACT = ('AT+QICSGP=1,1,"internet","","",1', "AT+QIACT=1")


async def test_no_sim() -> None:
    async with session(profile="no-sim") as (_, host):
        assert await host.cmd("AT+CPIN?") == b"\r\n+CME ERROR: 10\r\n"
        assert await host.cmd("AT+CIMI") == b"\r\n+CME ERROR: 10\r\n"
        assert await host.cmd("AT+QCCID") == b"\r\n+CME ERROR: 10\r\n"
        assert await host.cmd("AT+CEREG?") == b"\r\n+CEREG: 0,0\r\n\r\nOK\r\n"
        assert await host.cmd("AT+COPS?") == b"\r\n+COPS: 0\r\n\r\nOK\r\n"
        assert await host.cmd("AT+QNWINFO") == b"\r\n+QNWINFO: No Service\r\n\r\nOK\r\n"
        for command in ACT:
            final = await host.cmd(command)
        assert final == b"\r\nERROR\r\n"
        assert (await host.cmd("AT+QIGETERROR")).startswith(b"\r\n+QIGETERROR: 561,")


async def test_sim_pin_unlocks_and_registers() -> None:
    async with session(profile="sim-pin") as (_, host):
        assert await host.cmd("AT+CPIN?") == b"\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"
        assert await host.cmd("AT+CIMI") == b"\r\n+CME ERROR: 11\r\n"
        assert await host.cmd("AT+CEREG=1;+CEREG?") == b"\r\n+CEREG: 1,0\r\n\r\nOK\r\n"
        assert await host.cmd('AT+CPIN="0000"') == b"\r\n+CME ERROR: 16\r\n"
        host.write(b'AT+CPIN="1234"\r')
        await host.expect(b"\r\nOK\r\n\r\n+CPIN: READY\r\n\r\n+QIND: SMS DONE\r\n")
        await host.expect(b"\r\n+CEREG: 2\r\n\r\n+CEREG: 1\r\n")  # searching, then home
        assert await host.cmd("AT+CIMI") == b"\r\n460001234567890\r\n\r\nOK\r\n"


async def test_denied() -> None:
    async with session(profile="denied") as (_, host):
        assert await host.cmd("AT+CEREG?") == b"\r\n+CEREG: 0,3\r\n\r\nOK\r\n"
        assert await host.cmd("AT+CREG?") == b"\r\n+CREG: 0,3\r\n\r\nOK\r\n"
        qeng = await host.cmd('AT+QENG="servingcell"')
        assert qeng.startswith(b'\r\n+QENG: "servingcell","LIMSRV","LTE"')
        for command in ACT:
            final = await host.cmd(command)
        assert final == b"\r\nERROR\r\n"


async def test_roaming(server: TcpServer) -> None:
    async with session(profile="roaming") as (_, host):
        assert await host.cmd("AT+CEREG?") == b"\r\n+CEREG: 0,5\r\n\r\nOK\r\n"
        assert await host.cmd("AT+COPS?") == b'\r\n+COPS: 0,0,"Vodafone.de",7\r\n\r\nOK\r\n'
        assert (await host.cmd("AT+QNWINFO")).startswith(b'\r\n+QNWINFO: "FDD LTE","26202"')
        (await open_socket(host, server)).close()  # data works while roaming


async def test_weak_signal() -> None:
    async with session(profile="weak-signal") as (_, host):
        assert await host.cmd("AT+CSQ") == b"\r\n+CSQ: 15,99\r\n\r\nOK\r\n"
        assert await host.cmd("AT+QCSQ") == b'\r\n+QCSQ: "LTE",-83,-120,85,-17\r\n\r\nOK\r\n'


async def test_bad_apn_only_good_apns_activate() -> None:
    async with session(profile="bad-apn", good_apns=["m2m.good"]) as (_, host):
        assert await host.cmd('AT+QICSGP=1,1,"internet","","",0') == b"\r\nOK\r\n"
        assert await host.cmd("AT+QIACT=1") == b"\r\nERROR\r\n"
        assert await host.cmd("AT+QIGETERROR") == (
            b"\r\n+QIGETERROR: 561,PDP context opening failed\r\n\r\nOK\r\n"
        )
        assert await host.cmd('AT+QICSGP=1,1,"m2m.good","","",0') == b"\r\nOK\r\n"
        assert await host.cmd("AT+QIACT=1") == b"\r\nOK\r\n"


async def test_no_dns(server: TcpServer) -> None:
    async with session(profile="no-dns") as (_, host):
        for command in ACT:
            assert await host.cmd(command) == b"\r\nOK\r\n"
        host.write(f'AT+QIOPEN=1,0,"TCP","localhost",{server.port},0,0\r'.encode())
        await host.expect(b"\r\nOK\r\n\r\n+QIOPEN: 0,565\r\n")
        host.write(b'AT+QIDNSGIP=1,"localhost"\r')
        await host.expect(b'\r\nOK\r\n\r\n+QIURC: "dnsgip",565\r\n')
        (await open_socket(host, server)).close()  # a literal IP needs no DNS


async def test_csms_unreachable(server: TcpServer) -> None:
    async with session(profile="csms-unreachable") as (_, host):
        for command in ACT:
            assert await host.cmd(command) == b"\r\nOK\r\n"
        host.write(f'AT+QIOPEN=1,0,"TCP","127.0.0.1",{server.port},0,0\r'.encode())
        await host.expect(b"\r\nOK\r\n\r\n+QIOPEN: 0,566\r\n")
