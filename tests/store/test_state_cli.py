"""``cpsim state show`` / ``cpsim state reset`` through click's CliRunner."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from click.testing import CliRunner, Result

from chargepoint.cli import main
from chargepoint.core.actions import SaveAvailability
from chargepoint.store import SCHEMA_VERSION, Store

from .conftest import SECRET


def cpsim(*args: str, input: str | None = None) -> Result:
    result = CliRunner().invoke(main, ["state", *args], input=input)
    assert SECRET not in result.output  # the AuthorizationKey never leaves, whatever the command
    assert "Traceback" not in result.output
    return result


def test_show_prints_each_charger_with_the_key_masked(state_dir: Path) -> None:
    result = cpsim("show", "--state-dir", str(state_dir))
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith(
        f"{state_dir / 'cpsim.sqlite3'} (schema {SCHEMA_VERSION}): 2 charger(s)\n"
    )
    assert out.index("\nCP001\n") < out.index("\nCP002\n")
    lines = [line.split() for line in out.splitlines()]
    assert ["1", "TAG-0042", "1200", "7", "not", "yet", "known", "2026-12-07T09:58:00Z"] in lines
    assert ["2", "TAG-0007", "88000", "6", "4711", "2026-12-07T08:00:00Z"] in lines
    queued = [line[0] for line in lines if line and line[0] in ("14", "15", "16")]
    assert queued == ["14", "15", "16"]
    assert ["15", "MeterValues", "uid-15", "7", "1"] in lines
    assert ["2", "91250.0", "2026-12-07T10:02:00Z"] in lines
    assert ["AuthorizationKey", "********", "(set)"] in lines
    assert "  authorization cache: 2 idTag(s)" in out
    assert "  counters: next_local_tx=8 next_seq=17" in out


def test_show_json_is_one_stable_document(state_dir: Path) -> None:
    result = cpsim("show", "--state-dir", str(state_dir), "--json", "--id", "CP001")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["schema_version"] == SCHEMA_VERSION and doc["database"] == str(
        state_dir / "cpsim.sqlite3"
    )
    [cp] = doc["chargers"]
    assert cp["id"] == "CP001"
    assert cp["config"] == {"AuthorizationKey": "********", "HeartbeatInterval": "300"}
    assert [m["seq"] for m in cp["queue"]] == [14, 15, 16]
    assert cp["queue"][2] == {
        "seq": 16,
        "unique_id": "uid-16",
        "action": "StopTransaction",
        "payload": {"transactionId": 4711},
        "local_tx": 6,
        "attempts": 0,
    }
    assert cp["transactions"][1]["transaction_id"] is None
    assert cp["registers"][0] == {
        "connector_id": 1,
        "energy_wh": 1534.5,
        "timestamp": "2026-12-07T10:02:00Z",
    }
    assert cp["auth_cache_size"] == 2
    assert cp["counters"] == {"next_local_tx": 8, "next_seq": 17}


def test_show_of_an_empty_a_missing_and_a_bad_state_dir(tmp_path: Path) -> None:
    result = cpsim("show", "--state-dir", str(tmp_path))
    assert (result.exit_code, result.output) == (0, f"{tmp_path}: empty (no cpsim.sqlite3 yet)\n")
    assert not (tmp_path / "cpsim.sqlite3").exists()  # show creates nothing
    result = cpsim("show", "--state-dir", str(tmp_path), "--json")
    assert json.loads(result.output)["chargers"] == []

    result = cpsim("show", "--state-dir", str(tmp_path / "missing"))
    assert (result.exit_code, result.output) == (
        2,
        f"Error: {tmp_path / 'missing'}: no such state dir\n",
    )
    assert not (tmp_path / "missing").exists()

    (tmp_path / "cpsim.sqlite3").write_bytes(os.urandom(8192))
    result = cpsim("show", "--state-dir", str(tmp_path))
    assert result.exit_code == 2
    assert len(result.output.splitlines()) == 1
    assert f"cpsim state reset --state-dir {tmp_path}" in result.output


def test_show_of_an_unknown_charger(state_dir: Path) -> None:
    result = cpsim("show", "--state-dir", str(state_dir), "--id", "CP404")
    assert result.exit_code == 2
    assert "no state for charger 'CP404' (it holds CP001, CP002)" in result.output


def test_usage_errors_exit_2(state_dir: Path) -> None:
    assert cpsim("show").exit_code == 2
    assert cpsim("reset", "--state-dir", str(state_dir), "--bogus").exit_code == 2


def test_reset_keep_config_reports_what_it_dropped(state_dir: Path) -> None:
    result = cpsim("reset", "--state-dir", str(state_dir), "--keep-config", "--yes")
    assert result.exit_code == 0, result.output
    assert result.output == (
        "dropped 2 open transactions, 3 queued messages, 2 energy registers, "
        "2 cached idTags and 3 counters of 2 charger(s)\n"
    )
    with Store.open(state_dir) as store:
        assert store.load("CP001").config["AuthorizationKey"] == SECRET
        assert store.load("CP001").queue == []
        assert store.chargers() == ["CP001", "CP002"]


def test_reset_asks_first(state_dir: Path) -> None:
    result = cpsim("reset", "--state-dir", str(state_dir), "--id", "CP001", input="n\n")
    assert result.exit_code == 1
    assert "Drop 2 open transactions, 3 queued messages" in result.output
    with Store.open(state_dir) as store:
        assert len(store.load("CP001").queue) == 3  # nothing dropped
    result = cpsim("reset", "--state-dir", str(state_dir), "--id", "CP001", input="")
    assert result.exit_code == 1  # no answer (stdin not a terminal, empty): nothing dropped

    result = cpsim("reset", "--state-dir", str(state_dir), "--id", "CP001", input="y\n")
    assert result.exit_code == 0
    assert result.output.endswith(
        "2 configuration keys, 2 cached idTags and 2 counters of charger CP001\n"
    )
    with Store.open(state_dir) as store:
        assert store.chargers() == ["CP002"]

    result = cpsim("reset", "--state-dir", str(state_dir), "--id", "CP001", "-y")
    assert result.exit_code == 0 and result.output.endswith("nothing to drop\n")


def test_reset_counts_every_kind_of_row(state_dir: Path) -> None:
    with Store.open(state_dir) as store:
        store.apply("CP003", [SaveAvailability(2, False)])
    result = cpsim("reset", "--state-dir", str(state_dir), "--id", "CP003", "--yes")
    assert result.exit_code == 0, result.output
    assert result.output == "dropped 1 connector availability setting of charger CP003\n"
    result = cpsim("reset", "--state-dir", str(state_dir), "--yes")
    assert result.output == (
        "dropped 2 open transactions, 3 queued messages, 2 energy registers, "
        "3 configuration keys, 2 cached idTags and 3 counters of 2 charger(s)\n"
    )


def test_reset_moves_a_corrupt_database_aside(tmp_path: Path) -> None:
    db = tmp_path / "cpsim.sqlite3"
    junk = os.urandom(8192)
    db.write_bytes(junk)
    result = cpsim("reset", "--state-dir", str(tmp_path), "--yes")
    assert result.exit_code == 0, result.output
    [aside] = tmp_path.glob("cpsim.sqlite3.corrupt-*")
    assert aside.read_bytes() == junk  # kept, not deleted
    assert f"moved {db} aside to {aside.name}" in result.output
    assert result.output.endswith("nothing else to drop\n")
    with Store.open(tmp_path) as store:
        assert store.chargers() == []


def test_reset_moves_a_newer_database_aside_after_asking(state_dir: Path) -> None:
    with sqlite3.connect(state_dir / "cpsim.sqlite3") as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    result = cpsim("reset", "--state-dir", str(state_dir), input="n\n")
    assert result.exit_code == 1
    assert "(schema version 99)" in result.output
    assert not list(state_dir.glob("cpsim.sqlite3.newer-*"))
    result = cpsim("reset", "--state-dir", str(state_dir), input="y\n")
    assert result.exit_code == 0, result.output
    [aside] = state_dir.glob("cpsim.sqlite3.newer-*")
    with sqlite3.connect(aside) as conn:  # its rows are all there
        assert conn.execute("SELECT count(*) FROM queue").fetchone()[0] == 3
    conn.close()


def test_reset_sets_an_earlier_config_json_aside_too(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"AuthorizationKey": SECRET}))
    result = cpsim("reset", "--state-dir", str(tmp_path), "--yes")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "config.json").exists()
    [aside] = tmp_path.glob("config.json.reset-*")
    assert result.output == f"moved {tmp_path / 'config.json'} aside to {aside.name}\n"
    assert SECRET in aside.read_text()


def test_reset_of_a_bad_state_dir(tmp_path: Path) -> None:
    result = cpsim("reset", "--state-dir", str(tmp_path / "missing"), "--yes")
    assert (result.exit_code, result.output) == (
        2,
        f"Error: {tmp_path / 'missing'}: no such state dir\n",
    )
    (tmp_path / "file").write_text("")
    result = cpsim("reset", "--state-dir", str(tmp_path / "file"), "--yes")
    assert result.exit_code == 2 and "not a directory" in result.output
