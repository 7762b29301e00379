"""The firmware image format (chargepoint.firmware_image) and ``cpsim firmware pack``."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from chargepoint.cli import main
from chargepoint.firmware_image import (
    ImageCorrupt,
    ImageError,
    pack,
    read_image,
    version_from_name,
)


def test_a_packed_image_reads_back_with_its_version() -> None:
    image = read_image(pack(b"\x00\x01 payload", "cpsim-1.2.3"), "http://h/any-name")
    assert (image.version, image.payload, image.checked) == (
        "cpsim-1.2.3",
        b"\x00\x01 payload",
        True,
    )


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda d: d[:-1] + b"Y", "sha256"),  # altered
        (lambda d: d[:-3], "header says"),  # cut
        (lambda d: d + b"more", "header says"),  # appended to
    ],
)
def test_a_payload_that_does_not_match_its_header_is_corrupt(change, error) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ImageCorrupt, match=error):
        read_image(change(pack(b"payload", "v2")), "x")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"CPSIM-FIRMWARE/1 " + b"x" * 2000, "no end of line"),
        (b"CPSIM-FIRMWARE/1 {not json\n", "not JSON"),
        (b"CPSIM-FIRMWARE/1 [1]\n", "not a JSON object"),
        (b'CPSIM-FIRMWARE/1 {"version": "v", "sha256": "ab", "size": 0}\n', "sha256"),
        (b'CPSIM-FIRMWARE/1 {"sha256": "' + b"0" * 64 + b'", "size": 0}\n', "version"),
    ],
)
def test_a_bad_header_names_what_is_wrong(data: bytes, error: str) -> None:
    with pytest.raises(ImageError, match=error):
        read_image(data, "x")


def test_a_plain_file_takes_its_version_from_its_name() -> None:
    image = read_image(b"raw vendor image", "ftp://u:p@h/fw/cpsim-0.3.bin")
    assert (image.version, image.checked) == ("cpsim-0.3", False)
    assert version_from_name("http://h/a/EVSE%20FW%202.0.tar.gz") == "EVSE FW 2.0"


@pytest.mark.parametrize("location", ["http://h/dir/", "http://h/" + "v" * 51 + ".bin"])
def test_a_plain_file_whose_name_gives_no_usable_version_is_refused(location: str) -> None:
    with pytest.raises(ImageError):
        read_image(b"raw", location)


def test_a_version_must_fit_boot_notification() -> None:
    with pytest.raises(ImageError, match="CiString50"):
        pack(b"", "v" * 51)
    with pytest.raises(ImageError):
        pack(b"", " padded")


def test_cpsim_firmware_pack_writes_an_image(tmp_path: Path) -> None:
    source, out = tmp_path / "build.bin", tmp_path / "out.img"
    source.write_bytes(b"firmware bytes")
    result = CliRunner().invoke(
        main, ["firmware", "pack", "--version", "cpsim-2.0", str(source), str(out)]
    )
    assert result.exit_code == 0, result.output
    assert read_image(out.read_bytes(), "x").version == "cpsim-2.0"
    bad = CliRunner().invoke(
        main, ["firmware", "pack", "--version", "v" * 60, str(source), str(out)]
    )
    assert bad.exit_code == 2 and "CiString50" in bad.output
