"""Values that can never work are usage errors (exit 2), named before anything is opened:
no port is opened, no file created, nothing retried."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import closed_port, cpsim, last_line

URL = f"ws://127.0.0.1:{closed_port()}/ocpp"


def run_args(tmp_path: Path, *extra: str) -> list[str]:
    return ["run", "--id", "CP1", "--url", URL, "--state-dir", str(tmp_path / "st"), *extra]


def test_ports_that_can_never_work(tmp_path: Path) -> None:
    plain = tmp_path / "plainfile"
    plain.write_text("")
    cases = {
        str(
            plain
        ): f"Error: Invalid value for '--port': {plain} is a regular file, not a serial port",
        "/dev/null": "Error: Invalid value for '--port': /dev/null is a mem device, "
        "not a serial port",
        "tcp://127.0.0.1:1": "Error: Invalid value for '--port': unknown port scheme tcp://: "
        "give a device (/dev/ttyUSB2, COM5) or socket://HOST:PORT",
        str(tmp_path): f"Error: Invalid value for '--port': {tmp_path} is a directory, "
        "not a serial port",
    }
    for port, message in cases.items():
        result = cpsim(
            *run_args(tmp_path, "--modem", "ec200u", "--apn", "internet", "--port", port)
        )
        assert (result.exit_code, last_line(result)) == (2, message)
        result = cpsim("modem", "check", "--port", port)
        assert (result.exit_code, last_line(result)) == (2, message)
    assert not (tmp_path / "st").exists()  # refused before the state dir was opened


def test_unwritable_log_paths(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "at.log"
    expected = (
        f"Error: Invalid value for '--at-log': {missing}: its directory {missing.parent} "
        "does not exist"
    )
    port = f"socket://127.0.0.1:{closed_port()}"
    result = cpsim(
        *run_args(
            tmp_path, "--modem", "ec200u", "--apn", "x", "--port", port, "--at-log", str(missing)
        )
    )
    assert (result.exit_code, last_line(result)) == (2, expected)
    result = cpsim("modem", "check", "--port", port, "--at-log", str(missing))
    assert (result.exit_code, last_line(result)) == (2, expected)
    result = cpsim("modem", "check", "--port", port, "--at-log", str(tmp_path))
    assert result.exit_code == 2
    assert last_line(result).startswith("Error: Invalid value for '--at-log': ")
    assert last_line(result).endswith(f"{tmp_path}' is a directory.")  # click's own check


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ("--port", "/dev/ttyUSB2"),
            "Error: --port: only with --modem ec200u or --modem esp-at "
            "(without --modem the charger connects directly)",
        ),
        (
            ("--apn", "internet"),
            "Error: --apn: only with --modem ec200u or --modem esp-at "
            "(without --modem the charger connects directly)",
        ),
        (
            (
                "--modem",
                "esp-at",
                "--port",
                "socket://127.0.0.1:1",
                "--wifi-ssid",
                "w",
                "--apn",
                "a",
            ),
            "Error: --apn: APNs are cellular (--modem ec200u)",
        ),
        (
            (
                "--modem",
                "ec200u",
                "--port",
                "socket://127.0.0.1:1",
                "--apn",
                "a",
                "--wifi-ssid",
                "w",
            ),
            "Error: --wifi-ssid is for --modem esp-at",
        ),
    ],
)
def test_options_the_link_would_ignore(
    tmp_path: Path, extra: tuple[str, ...], message: str
) -> None:
    result = cpsim(*run_args(tmp_path, *extra))
    assert (result.exit_code, last_line(result)) == (2, message)


def test_a_url_that_already_ends_with_the_id_is_refused(tmp_path: Path) -> None:
    result = cpsim(
        "run", "--id", "CPF", "--url", "ws://127.0.0.1:9/ocpp/CPF", "--state-dir", str(tmp_path)
    )
    assert result.exit_code == 2
    assert last_line(result) == (
        "Error: Invalid value for '--url': it already ends with the charge-point id 'CPF', "
        "which cpsim appends (it would connect to .../CPF/CPF): give the base URL "
        "ws://127.0.0.1:9/ocpp"
    )


def test_modem_check_with_a_bad_id() -> None:
    result = cpsim(
        "modem", "check", "--port", "socket://127.0.0.1:1", "--csms-url", URL, "--id", "bad id"
    )
    assert result.exit_code == 2
    assert last_line(result).startswith(
        "Error: Invalid value for '--id': the charge-point id 'bad id' contains ' '"
    )


def test_emulator_options_of_the_other_dialect() -> None:
    result = cpsim("modem", "emulate", "--dialect", "esp-at", "--profile", "no-sim")
    assert (result.exit_code, last_line(result)) == (
        2,
        "Error: --profile is for --dialect ec200u, not esp-at",
    )
    result = cpsim("modem", "emulate", "--dialect", "ec200u", "--wifi-ssid", "home")
    assert (result.exit_code, last_line(result)) == (
        2,
        "Error: --wifi-ssid is for --dialect esp-at, not ec200u",
    )


def test_an_apn_file_of_blank_lines(tmp_path: Path) -> None:
    apns = tmp_path / "apns.csv"
    apns.write_text("\n  \n# only a comment\n\n")
    result = cpsim("modem", "apn-scan", "--port", "socket://127.0.0.1:1", "--apn-file", str(apns))
    assert (result.exit_code, last_line(result)) == (
        2,
        f"Error: Invalid value for '--apn-file': {apns} lists no APN (only blank lines or "
        "# comments)",
    )


def test_validate_of_a_directory_without_scenarios(tmp_path: Path) -> None:
    result = cpsim("scenario", "validate", str(tmp_path))
    assert (result.exit_code, last_line(result)) == (
        2,
        f"Error: no scenario files (*.yaml, *.yml) in {tmp_path}",
    )
    result = cpsim("scenario", "validate", str(tmp_path / "mistyped"))
    assert result.exit_code == 2
