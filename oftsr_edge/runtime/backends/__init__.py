"""Inference backends behind one small interface (:class:`~oftsr_edge.runtime.backends.base.Backend`)."""
