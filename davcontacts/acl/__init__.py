"""Access control (policy.py: who may do what) and authentication (auth.py).

`policy.allowed(user, action, target)` / `policy.require(...)` are the one place an
access decision is taken; everything else asks them.
"""
