"""The benchmark: davcontacts against Radicale and Xandikos (see run.py)."""
