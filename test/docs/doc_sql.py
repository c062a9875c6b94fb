#!/usr/bin/python3
"""Run the SQL of the documentation and compare the output it shows.

    doc_sql.py FILE.md ...

For each Markdown file, in a database of its own made afresh with
CREATE EXTENSION pg_inbox, every ```sql block is run in order, top to
bottom, in one psql session (ON_ERROR_STOP), as a reader pasting them one
after the other would.  The connection comes from the PG* variables.
Prints TAP: for each file, one test that all its blocks ran, and one test
per result it shows.

The conventions (README.md, "Contributing", says the same):

- A ```sql block runs.  A block that cannot run as written (a function's
  signature, a statement that needs another extension) carries the marker
      <!-- norun: the reason -->
  on the line before its fence; blocks in any other language (sh, c, text,
  none) are not run.
- A result is psql's aligned output, without the row count footer, written
  as comments right after the statements it belongs to, each line of it
  after "-- ": the header line, the separator line of dashes (and "+"),
  then the rows.  As psql prints them, the header and the rows start with a
  blank ("--  inserted"); the result ends at the first line that does not
  ("-- prose" or SQL).  It is compared with what psql printed for the
  statements since the previous result of the block (or the block's start);
  blank lines, and the width of the columns, do not count.  Comments that are not laid out
  like this are prose and are not compared, so never write an output that
  way: show a real one.
- Results must not depend on the time or on other sessions: select stable
  columns (status, not received_at).
- Roles a file creates are dropped after it, with its database.
- A block of any language with the marker
      <!-- from examples/python/webhook.py -->
  on the line before its fence is an excerpt of that file (the path relative
  to the repository's top): its lines must appear in the file as they are,
  one after the other.  One test per excerpt.
"""

import os
import re
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)")
NORUN = re.compile(r"^<!--\s*norun:\s*\S.*-->\s*$")
FROM = re.compile(r"^<!--\s*from\s+(\S+)\s*-->\s*$")
TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEPARATOR = re.compile(r"^-+(\+-+)*$")
MARK = "@@doc-sql chunk {}@@"


class Chunk:
    """SQL lines of a block up to a shown result (expected is None: no result shown)."""

    def __init__(self, first_line):
        self.first_line = first_line      # line number in the Markdown file
        self.lines = []                   # (markdown line number, text)
        self.expected = None              # list of lines, or None
        self.expected_line = None


def comment_text(line):
    """The text of a result line: what follows "-- " (or nothing, for "--")."""
    if line.rstrip() == "--":
        return ""
    return line[3:] if line.startswith("-- ") else line[2:]


def is_comment(line):
    return line.startswith("--")


def blocks_of(path, excerpts=None):
    """Yield (first line number, [lines]) of each ```sql block to run; append
    (first line number, source file, [lines]) of each excerpt to excerpts."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    previous = ""
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            if lines[i].strip():
                previous = lines[i].strip()
            i += 1
            continue
        fence, lang = m.group(1), m.group(2).lower()
        start = i + 1
        i += 1
        while i < len(lines) and not lines[i].startswith(fence[:3]):
            i += 1
        excerpt = FROM.match(previous)
        if excerpt and excerpts is not None:
            excerpts.append((start + 1, excerpt.group(1), lines[start:i]))
        elif lang == "sql" and not NORUN.match(previous):
            yield start + 1, lines[start:i]
        previous = ""
        i += 1


def chunks_of(first_line, lines):
    """Cut a block into chunks, each ending with the result it shows (if any)."""
    chunks = [Chunk(first_line)]
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if (is_comment(line) and comment_text(line).startswith(" ") and is_comment(nxt)
                and SEPARATOR.match(comment_text(nxt).rstrip() or "x")):
            chunk = chunks[-1]
            chunk.expected = [comment_text(line), comment_text(nxt)]
            chunk.expected_line = first_line + i
            i += 2
            while (i < len(lines) and is_comment(lines[i])
                   and comment_text(lines[i]).startswith(" ")):
                chunk.expected.append(comment_text(lines[i]))
                i += 1
            chunks.append(Chunk(first_line + i))
            continue
        chunks[-1].lines.append((first_line + i, line))
        i += 1
    return chunks


def normalise(lines):
    """Blank lines dropped; runs of blanks, and of dashes in a separator, made one."""
    out = []
    for line in lines:
        if not line.strip():
            continue
        if SEPARATOR.match(line.strip()):
            out.append(re.sub(r"-+", "-", line.strip()))
        else:
            out.append(re.sub(r" +", " ", line.strip()))
    return out


def psql(*args, **kwargs):
    return subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", *args],
                          capture_output=True, text=True, **kwargs)


def roles():
    r = psql("-At", "-d", "postgres", "-c", "SELECT rolname FROM pg_roles")
    return set(r.stdout.split())


def run_file(path, test_no):
    """Run one file; returns the TAP lines and the next test number."""
    name = os.path.relpath(path)
    chunks = []
    nblocks = 0
    excerpts = []
    for first, lines in blocks_of(path, excerpts):
        nblocks += 1
        chunks.extend(chunks_of(first, lines))
    db = "inbox_doc_" + re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")

    # the script: a marker before each chunk, so that the output can be cut
    # back into chunks; line_map maps each script line to the file's
    script = ["\\pset footer off", "SET client_min_messages = warning;"]
    line_map = [None, None]
    for n, chunk in enumerate(chunks):
        script.append("\\echo '" + MARK.format(n) + "'")
        line_map.append(chunk.first_line)
        for lineno, text in chunk.lines:
            script.append(text)
            line_map.append(lineno)

    out = []
    roles_before = roles()
    psql("-d", "postgres", "-c", f'DROP DATABASE IF EXISTS "{db}"')
    created = psql("-d", "postgres", "-c", f'CREATE DATABASE "{db}"')
    try:
        if created.returncode != 0:
            raise RuntimeError(created.stderr)
        ext = psql("-d", db, "-c", "CREATE EXTENSION pg_inbox")
        if ext.returncode != 0:
            raise RuntimeError(ext.stderr)
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
            f.write("\n".join(script) + "\n")
            script_path = f.name
        try:
            r = psql("-d", db, "-f", script_path)
        finally:
            os.unlink(script_path)
    finally:
        psql("-d", "postgres", "-c", f'DROP DATABASE IF EXISTS "{db}"')
        for role in sorted(roles() - roles_before):
            psql("-d", "postgres", "-c", f'DROP ROLE "{role}"')

    # where did it stop?
    ran_ok = r.returncode == 0
    desc = f"{name}: {nblocks} sql blocks run in order"
    if ran_ok:
        out.append(f"ok {test_no} - {desc}")
    else:
        out.append(f"not ok {test_no} - {desc}")
        for err in r.stderr.splitlines():
            m = re.match(r"psql:[^:]*:(\d+):(.*)", err)
            if m and int(m.group(1)) < len(line_map) and line_map[int(m.group(1))]:
                out.append(f"#   {name}:{line_map[int(m.group(1))]}:{m.group(2)}")
            else:
                out.append(f"#   {err}")
    test_no += 1

    # the output of each chunk
    got = {}
    current = None
    for line in r.stdout.split("\n"):
        m = re.fullmatch(re.escape(MARK).replace(r"\{\}", r"(\d+)"), line)
        if m:
            current = int(m.group(1))
            got[current] = []
        elif current is not None:
            got[current].append(line)
    for n, chunk in enumerate(chunks):
        if chunk.expected is None:
            continue
        desc = f"{name}:{chunk.expected_line}: the result shown"
        actual = normalise(got.get(n, []))
        expected = normalise(chunk.expected)
        if n in got and actual == expected:
            out.append(f"ok {test_no} - {desc}")
        else:
            out.append(f"not ok {test_no} - {desc}")
            if n not in got:
                out.append("#   not reached")
            else:
                out.append("#   shown:")
                out.extend("#     -- " + l for l in expected)
                out.append("#   psql printed:")
                out.extend("#     -- " + l for l in actual)
        test_no += 1

    # the excerpts of example files
    for first, source, lines in excerpts:
        desc = f"{name}:{first}: an excerpt of {source}"
        try:
            with open(os.path.join(TOP, source), encoding="utf-8") as f:
                text = f.read().split("\n")
        except OSError as e:
            out.append(f"not ok {test_no} - {desc}")
            out.append(f"#   {e}")
            test_no += 1
            continue
        n = len(lines)
        found = any(text[k:k + n] == lines for k in range(len(text) - n + 1))
        out.append(f"{'ok' if found else 'not ok'} {test_no} - {desc}")
        if not found:
            out.append(f"#   these {n} lines are not in {source} as they are")
        test_no += 1
    return out, test_no


def main(files):
    lines = []
    test_no = 1
    for path in files:
        out, test_no = run_file(path, test_no)
        lines.extend(out)
    print(f"1..{test_no - 1}")
    print("\n".join(lines))
    return 0 if not any(l.startswith("not ok") for l in lines) else 1


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1:]))
