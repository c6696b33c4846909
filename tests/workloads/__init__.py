"""Users' documented workloads, run as their own scripts (tests/test_workloads_*.py)."""
