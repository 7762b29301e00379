"""``cpsim run`` keeps its log (by default ``cpsim.log`` in the state dir, mode 0600), and
GetDiagnostics uploads it: the archive holds the OCPP exchange, secrets masked."""

from __future__ import annotations

import asyncio
import io
import signal
import stat
import sys
import tarfile
from pathlib import Path

from chargepoint.csms.server import LocalCsms

CPSIM = [sys.executable, "-m", "chargepoint"]
KEY = "00112233445566778899aabbccddeeff"


async def test_get_diagnostics_uploads_the_chargers_log(tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with LocalCsms(port=0, uploads_dir=tmp_path / "uploads") as csms:
        proc = await asyncio.create_subprocess_exec(
            *CPSIM,
            "run",
            "--id",
            "CP1",
            "--url",
            csms.url,
            "--state-dir",
            str(state),
            "--password",
            KEY,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            await csms.wait_connected("CP1", timeout=30)
            answer = await csms.call(
                "CP1", "GetDiagnostics", {"location": csms.diagnostics_url}, timeout=30
            )
            assert answer.get("fileName")
            for _ in range(300):
                done = [r for r in csms.transfers if r.kind == "upload" and r.path]
                if done and done[0].outcome == "complete":
                    break
                await asyncio.sleep(0.1)
            assert done and done[0].outcome == "complete", csms.transfers
        finally:
            proc.send_signal(signal.SIGINT)
            await asyncio.wait_for(proc.wait(), 30)
    _check(state / "cpsim.log", Path(str(done[0].path)))


def _check(log: Path, upload: Path) -> None:
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    with tarfile.open(fileobj=io.BytesIO(upload.read_bytes()), mode="r:gz") as archive:
        member = next(n for n in archive.getnames() if n.endswith("cpsim.log"))
        text = archive.extractfile(member).read().decode()  # type: ignore[union-attr]
    assert "BootNotification" in text and "GetDiagnostics" in text
    assert KEY not in text
