"""``python -m benchmarks``: run every benchmark and rewrite benchmarks/RESULTS.md (see run_all.py)."""
from benchmarks.run_all import main

raise SystemExit(main())
