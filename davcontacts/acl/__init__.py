"""Access control (policy.py: who may do what) and authentication (auth.py)."""
