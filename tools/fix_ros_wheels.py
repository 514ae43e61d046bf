"""Point the ROS 2 wheels' exported CMake files at this venv's Python and numpy headers.

The PyPI wheels of ROS 2 were built in a manylinux image and their *.cmake files name that
image's include paths; message generation fails until they name ours. Idempotent.
"""
import glob
import os
import sys
import sysconfig

import numpy

BUILDER_PATHS = {
    "/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include": numpy.get_include(),
    "/opt/python/cp311-cp311/include/python3.11": sysconfig.get_paths()["include"],
}


def main() -> int:
    prefix = os.environ.get("VIRTUAL_ENV", sys.prefix)
    fixed = 0
    for path in glob.glob(os.path.join(prefix, "share", "*", "cmake", "*.cmake")):
        with open(path) as f:
            text = f.read()
        new = text
        for old, ours in BUILDER_PATHS.items():
            new = new.replace(old, ours)
        if new != text:
            with open(path, "w") as f:
                f.write(new)
            fixed += 1
    print(f"fix_ros_wheels: {fixed} CMake file(s) updated under {prefix}/share")
    return 0


if __name__ == "__main__":
    sys.exit(main())
