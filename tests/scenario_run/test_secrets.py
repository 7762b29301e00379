"""An AuthorizationKey a scenario sets never shows: not on stdout, not in the report files, not
in the JUnit file; ``***`` stands where it was."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from chargepoint.cli.scenario import scenario
from chargepoint.logmask import Scrubber, mask_data

KEY = "00112233445566778899aabbccddeeff"
OTHER_KEY = "ffeeddccbbaa99887766554433221100"

SETS_THE_KEY = f"""\
    name: sets the key
    charger: {{id: CP-SECRET, time_scale: virtual}}
    steps:
      - wait: {{until: boot_accepted}}
      - csms:
          call: ChangeConfiguration
          payload: {{key: AuthorizationKey, value: "{KEY}"}}
          result: {{status: Accepted}}
      # fails: the step, its details and the whole run go into the JUnit file
      - csms:
          call: ChangeConfiguration
          payload: {{key: AuthorizationKey, value: "{OTHER_KEY}"}}
          result: {{status: Rejected}}
    """


def test_a_key_set_in_a_scenario_never_reaches_its_output(
    write_scenario: Callable[..., Path], tmp_path: Path
) -> None:
    path = write_scenario(SETS_THE_KEY)
    junit, report = tmp_path / "junit.xml", tmp_path / "report"
    result = CliRunner().invoke(
        scenario,
        ["run", str(path), "--junit", str(junit), "--report", str(report), "--log-level", "DEBUG"],
    )
    assert result.exit_code == 1, result.output
    steps = [
        line.split("]  ", 1)[1]  # after the mark and the real [charger] times
        for line in result.stdout.splitlines()
        if "ChangeConfiguration" in line
    ]
    assert steps == [
        "csms call ChangeConfiguration {key: AuthorizationKey, value: '***'} "
        "result {status: Accepted}",
        "csms call ChangeConfiguration {key: AuthorizationKey, value: '***'} "
        "result {status: Rejected}",
    ]
    frames = (report / "scenario.frames.jsonl").read_text()
    assert frames.count('"key":"AuthorizationKey","value":"***"') == 2
    written = {
        "stdout": result.stdout,
        "stderr": result.stderr,
        "junit": junit.read_text(),
        **{file.name: file.read_text() for file in report.iterdir()},
    }
    assert set(written) >= {
        "scenario.json",
        "scenario.frames.jsonl",
        "scenario.timeline.jsonl",
    }
    for key in (KEY, OTHER_KEY):
        leaks = [name for name, text in written.items() if key in text]
        assert not leaks, f"the key is in {leaks}"


def test_mask_data_hides_the_value_in_a_payload_at_any_depth() -> None:
    frame = [2, "1", "ChangeConfiguration", {"key": "AuthorizationKey", "value": KEY}]
    assert mask_data(frame) == [
        2,
        "1",
        "ChangeConfiguration",
        {"key": "AuthorizationKey", "value": "***"},
    ]
    assert frame[3] == {"key": "AuthorizationKey", "value": KEY}  # the input is left alone
    entries = {"configurationKey": [{"key": "authorizationkey", "readonly": False, "value": KEY}]}
    assert mask_data(entries)["configurationKey"][0]["value"] == "***"
    other = {"key": "HeartbeatInterval", "value": "60"}
    assert mask_data(other) == other


def test_the_scrubber_hides_a_known_value_in_free_text() -> None:
    scrub = Scrubber()
    scrub.learn({"payload": {"key": "AuthorizationKey", "value": KEY}})
    scrub.add("abc")  # too short to replace as text: it would blot out words
    line = f"value: expected '{KEY}', got 'abc'"
    assert scrub.text(line) == "value: expected '***', got 'abc'"
