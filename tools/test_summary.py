"""Print one closing line, 'N passed, N failed, N skipped', from the pytest JUnit files that
`colcon test` leaves under .ws/build (colcon's own summary also counts CTest's wrappers)."""
import glob
import sys
import xml.etree.ElementTree as ET


def main(build_dir: str) -> int:
    tests = failed = skipped = 0
    for path in glob.glob(f"{build_dir}/*/test_results/*/*.xunit.xml"):
        for suite in ET.parse(path).getroot().iter("testsuite"):
            tests += int(suite.get("tests", 0))
            failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            skipped += int(suite.get("skipped", 0))
    print(f"{tests - failed - skipped} passed, {failed} failed, {skipped} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".ws/build"))
