"""``cpsim run --security-extension --cpo-name NAME`` (issue 13 audit G1, G3): from the
command line alone a charger pushes its security events and renews its certificate
against the CSMS root it was given with ``--ca-file`` (no InstallCertificate first);
both keys are kept in the state dir for the next run."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from click.testing import CliRunner
from cryptography import x509
from cryptography.x509.oid import NameOID

from chargepoint.csms.framelog import Frame
from chargepoint.csms.handlers import CsmsPolicy
from chargepoint.csms.server import Credentials, LocalCsms
from chargepoint.csms.signing_ca import load_signing_ca
from chargepoint.security.pki import DevelopmentPki
from chargepoint.store import Store

CPSIM = [sys.executable, "-m", "chargepoint"]
KEY = "00112233445566778899aabbccddeeff"
CP = "CP001"


@asynccontextmanager
async def charger(
    csms: LocalCsms, pki: DevelopmentPki, state: Path, *extra: str
) -> AsyncIterator[None]:
    proc = await asyncio.create_subprocess_exec(
        *CPSIM,
        "run",
        "--id", CP,
        "--url", csms.url,
        "--state-dir", str(state),
        "--ca-file", str(pki.ca.cert_path),
        "--password", KEY,
        *extra,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 30)


def startup_events(csms: LocalCsms) -> list[Frame]:
    return [
        f
        for f in csms.frames.calls(CP, "SecurityEventNotification")
        if isinstance(f.payload, dict) and f.payload.get("type") == "StartupOfTheDevice"
    ]


async def test_security_extension_and_cpo_name_from_the_command_line(
    pki: DevelopmentPki, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    signing = load_signing_ca(pki.ca.cert_path, pki.ca.key_path, organization="ACME")
    async with LocalCsms(
        port=0,
        credentials=Credentials(shared=KEY),
        tls_cert=pki.csms.cert_path,
        tls_key=pki.csms.key_path,
        policy=CsmsPolicy(signing_ca=signing),
    ) as csms:
        options = ("--cpo-name", "ACME", "--security-extension")
        async with charger(csms, pki, state, *options):
            await csms.wait_connected(CP, timeout=30)
            # G1: the boot's critical event is pushed (WP A04)
            await csms.frames.wait_for(lambda f: bool(startup_events(csms)), 30)
            # G3: CSR with O = --cpo-name; the chain ends at the --ca-file root: Accepted
            trigger = {"requestedMessage": "SignChargePointCertificate"}
            assert await csms.call(CP, "ExtendedTriggerMessage", trigger) == {"status": "Accepted"}
            request = await csms.frames.wait_for(lambda f: f.action == "SignCertificate", 30)
            csr = x509.load_pem_x509_csr(str(request.payload["csr"]).encode())
            assert [
                a.value for a in csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
            ] == ["ACME"]
            sent = await csms.frames.wait_for(
                lambda f: f.action == "CertificateSigned" and f.direction == "sent", 30
            )
            answer = await csms.frames.wait_for(
                lambda f: f.message_type == 3 and f.message[1] == sent.message[1], 30
            )
            assert answer.payload == {"status": "Accepted"}
            installed = await csms.call(
                CP,
                "GetInstalledCertificateIds",
                {"certificateType": "CentralSystemRootCertificate"},
            )
            assert installed == {"status": "NotFound"}  # trusted, not installed over OCPP
        # kept: a run without the options still has them
        async with charger(csms, pki, state):
            await csms.frames.wait_for(lambda f: len(startup_events(csms)) == 2, 30)
        assert stored_config(state)["CpoName"] == "ACME"
        assert stored_config(state)["SecurityExtension"] == "true"
        # and --no-security-extension turns it off for good
        async with charger(csms, pki, state, "--no-security-extension"):
            await csms.frames.wait_for(
                lambda f: len(csms.frames.calls(CP, "BootNotification")) == 3, 30
            )
        assert stored_config(state)["SecurityExtension"] == "false"


def stored_config(state: Path) -> dict[str, str]:
    with Store.open_readonly(state) as store:
        return store.load(CP).config


def test_a_bad_cpo_name_is_a_usage_error(tmp_path: Path) -> None:
    from chargepoint.cli import main

    base = ["run", "--id", CP, "--url", "ws://127.0.0.1:9/ocpp", "--state-dir", str(tmp_path)]
    result = CliRunner().invoke(main, [*base, "--cpo-name", "x" * 65])
    assert result.exit_code == 2
    assert "--cpo-name" in result.output and "at most 64" in result.output
    assert not list(tmp_path.iterdir())  # nothing opened


def test_the_help_says_the_extension_is_off_by_default() -> None:
    from chargepoint.cli import main

    result = CliRunner().invoke(main, ["run", "--help"], terminal_width=200)
    text = " ".join(result.output.split())
    assert "--security-extension / --no-security-extension" in text
    assert "default: off" in text and "NotImplemented" in text


async def _first_stderr_line_with(args: list[str], needle: str) -> str | None:
    """Run ``cpsim run`` until a stderr line holds ``needle`` (that line), or until its
    first connect failure shows it was never said (None); then stop it."""
    proc = await asyncio.create_subprocess_exec(
        *CPSIM, "run", *args, stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL
    )
    assert proc.stderr is not None
    try:
        async with asyncio.timeout(30):
            async for raw in proc.stderr:
                line = raw.decode()
                if needle in line:
                    return line
                if "cannot connect" in line:  # the warning comes before any connect
                    return None
        return None
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), 30)


async def test_profile_2_without_a_key_says_so_at_start(
    pki: DevelopmentPki, tmp_path: Path
) -> None:
    """A wss:// charger on profile 2 with no AuthorizationKey would meet 401 after 401: the
    log names the missing key before the first connect; with a key, or on plain ws://
    (profile 1 only by default), it says nothing."""
    dead = "127.0.0.1:1/ocpp"  # nobody there: the first connect fails at once
    base = ["--id", CP, "--ca-file", str(pki.ca.cert_path)]
    needle = "no AuthorizationKey is set"
    line = await _first_stderr_line_with(
        [*base, "--url", f"wss://{dead}", "--state-dir", str(tmp_path / "a")], needle
    )
    assert line is not None and "SecurityProfile 2" in line and "--password" in line
    keyed = [*base, "--url", f"wss://{dead}", "--state-dir", str(tmp_path / "b")]
    assert await _first_stderr_line_with([*keyed, "--password", KEY], needle) is None
    plain = ["--id", CP, "--url", f"ws://{dead}", "--state-dir", str(tmp_path / "c")]
    assert await _first_stderr_line_with(plain, needle) is None
