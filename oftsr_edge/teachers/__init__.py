"""External teachers for training: trained peer networks run once over degraded crops (torch + the peer's runtime).

This package sits above ``train`` and ``evaluation``: it degrades crops with the training degradations and runs a
peer through the evaluation's ncnn loader, so neither of those two needs to know the other.
"""
