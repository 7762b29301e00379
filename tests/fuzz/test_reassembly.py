"""Property of the +WS_DATA reassembly: every well-formed message survives broken frames.

Settings come from the ``fuzz`` profile of this folder's conftest.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from .wsframes import check_recovery, frames, pieces

FUZZ = settings.get_profile("fuzz")


@FUZZ
@given(data=st.data())
def test_every_message_recovered_around_garbage(data: st.DataObject) -> None:
    stream = data.draw(frames, label="frames")
    size = data.draw(st.sampled_from([4, 16, 64, 1024]), label="buffer_size")
    check_recovery(stream, size, data.draw(pieces(stream, size), label="pieces"))
