"""Table 8 / Fig. 6 of the paper on this machine: `python bench/latency.py [--quick]`.

The same as `degram bench`; kept here so every benchmark lives in bench/."""
import sys

from degram_core.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
