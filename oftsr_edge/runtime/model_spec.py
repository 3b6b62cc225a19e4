"""Temporary re-export while importers move to :mod:`oftsr_edge.contract` (deleted once none is left)."""

from __future__ import annotations

from oftsr_edge.contract import FORMAT_VERSION, INPUT_NAMES, METADATA_KEY, OUTPUT_HR, PRECISIONS, ModelSpec

OUTPUT_NAME = OUTPUT_HR
__all__ = ["FORMAT_VERSION", "INPUT_NAMES", "METADATA_KEY", "OUTPUT_NAME", "PRECISIONS", "ModelSpec"]
