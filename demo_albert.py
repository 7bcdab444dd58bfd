#!/usr/bin/env python3
"""Runs the toolkit's tasks with sensible defaults, on one device or across workers, with
Habana's demo_albert.py flags: `python demo_albert.py --help` (the same as `albert-demo`)."""

import sys

from albert.demo import main

if __name__ == "__main__":
    sys.exit(main())
