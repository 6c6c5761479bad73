"""The built-in training texts, from the classic RNN lab: ``--sample NAME``.

Plain Python, so the CLI lists and checks the names before anything heavy loads.
"""
from __future__ import annotations

#: how a run records that it trained on a sample: ``sample:NAME`` (else the text file's path)
SAMPLE_PREFIX = "sample:"

#: name -> (text, window). A window of None means "the whole text is one sequence"
#: (hihello: hihell -> ihello); the ship sentence is cut into sliding windows of 10.
SAMPLES: dict[str, tuple[str, int | None]] = {
    "hihello": ("hihello", None),
    "fighting": (" 화이팅입니다", None),
    "ship": (
        "if you want to build a ship, don't drum up people together to collect wood and "
        "don't assign them tasks and work, but rather teach them to long for the endless "
        "immensity of the sea.",
        10,
    ),
}
