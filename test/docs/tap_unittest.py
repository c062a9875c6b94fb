#!/usr/bin/python3
"""Run the unittest tests of a directory and print TAP, one line per test.

    tap_unittest.py DIRECTORY [PATTERN]

The directory is put first on sys.path (the examples import each other by
module name); PATTERN picks the files (default test*.py).
"""

import sys
import unittest


class TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0

    def _line(self, ok, test, why=None):
        self.n += 1
        print(f"{'ok' if ok else 'not ok'} {self.n} - {test.id()}", flush=True)
        if why:
            for line in why.rstrip().split("\n"):
                print(f"#   {line}")

    def addSuccess(self, test):
        self._line(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(False, test, self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        if test.__class__.__name__ == "_ErrorHolder":   # setUpModule and the like
            self.n += 1
            print(f"not ok {self.n} - {test.description}")
            print("#   " + self._exc_info_to_string(err, test).rstrip().replace("\n", "\n#   "))
            return
        self._line(False, test, self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        self.n += 1
        print(f"ok {self.n} - {test.id()} # SKIP {reason}")


def main(directory, pattern="test*.py"):
    sys.path.insert(0, directory)
    suite = unittest.defaultTestLoader.discover(directory, pattern=pattern,
                                                top_level_dir=directory)
    print(f"1..{suite.countTestCases()}", flush=True)
    result = TapResult()
    suite.run(result)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
