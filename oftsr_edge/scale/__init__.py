"""Scale-out inference: upscaling datasets that outgrow one machine (Ray Data; see docs/scale-out.md).

Builds on the torch-free runtime only; Ray is the optional ``[ray]`` extra, imported inside functions.
"""
