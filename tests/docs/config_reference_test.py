#!/usr/bin/env python3
"""docs/configuration.md lists every config key the services read, and nothing else.

usage: config_reference_test.py REPOSITORY_ROOT [--list]

The keys the code reads are found in services/**/*.cc the way the chart check finds them
(tests/deploy/deploycheck/chart.go, LoadConfigKeys), with comments removed first:

  Get{String,Int,Double,Bool,Duration,List,IntList}("a.b") and Has("a.b")   exact keys
  Node("a.b") and ChildKeys("a.b")                                          a subtree a.b.*
  Get*("a.b." + name + ".c")                                                the pattern a.b.<name>.c
  Get*(service + ".c")                                                      <section>.c for every
      string literal passed as `service` to the function that reads it (router.c, sla.c)

and, beyond the chart check, reads whose key is a variable or a formatted string:

  config.Get*(key) in `for (... key : {"a.b", "c.d"})`                      each listed key
  config.Get*(key) in `for (const auto& [key, setting] : table)`            the first string of each
      {"config.key", "library.setting"} pair of `table` (services/common/kafka/options.cc)
  config.Get*(fmt::format("a.{}", name)) in `for (... name : {"x", "y"})`   a.x, a.y

A read on a config object whose key none of these resolves fails the test: a new way of
building keys must be taught here, so that no key escapes the reference.

The documented keys are the first cells of the rows of every table in docs/configuration.md
whose header's first cell is "key". Each such cell is one backticked entry:

  `a.b.c`        an exact key
  `a.b.*`        a subtree the code reads as a whole (Node, ChildKeys)
  `a.<name>.c`   a pattern with one free segment (a concatenation in the code)

The test fails listing (a) keys read but not documented, (b) documented entries nothing reads,
(c) reads it could not resolve and (d) malformed or duplicate rows. --list prints every key
read, with the files that read it, and passes.
"""

import os
import re
import sys
from collections import defaultdict

GETTERS = r"(?:Get(?:String|Int|Double|Bool|Duration|List|IntList)|Has)"
TYPED = r"Get(?:String|Int|Double|Bool|Duration|List|IntList)"
KEY = r"[a-z0-9_.\-]+"

# As chart.go's, plus GetIntList (http.cpu_affinity).
EXACT = re.compile(r"\b" + GETTERS + r"\(\s*\"(" + KEY + r")\"\s*[,)]")
SUBTREE = re.compile(r"\b(?:Node|ChildKeys)\(\s*\"(" + KEY + r")\"\s*\)")
CONCAT = re.compile(
    r"\b" + TYPED + r"\(\s*\"(" + KEY + r"\.)\"\s*\+\s*[A-Za-z_]+\s*\+\s*\"(\." + KEY + r")\"")
SECTIONED = re.compile(r"\b" + TYPED + r"\(\s*([a-z_]+)\s*\+\s*\"(\." + KEY + r")\"")
# Any call on a config object (config, config_, ctx.config): its first argument is classified.
CONFIG_CALL = re.compile(
    r"\b\w*config\w*\s*(?:\.|->)\s*(" + GETTERS + r"|Node|ChildKeys)\(\s*")
FORMAT = re.compile(r"fmt::format\(\s*\"(" + KEY + r"|[a-z0-9_.\-]*\{\}[a-z0-9_.\-]*)\"\s*,\s*(\w+)\s*\)")
PAIR = re.compile(r"\{\s*\"(" + KEY + r")\"\s*,\s*\"[a-z0-9_.\-]+\"\s*\}")
STRING = re.compile(r"\"([^\"\\]*)\"")

DOC = "docs/configuration.md"


def strip_comments(text):
    """C++ text with // and /* */ comments blanked (newlines kept), string literals kept."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^()\\ ]{0,16})\(', text[i:])
            if not m:
                out.append(c)
                i += 1
                continue
            end = text.find(")" + m.group(1) + '"', i + m.end())
            end = n if end < 0 else end + len(m.group(1)) + 2
            out.append(text[i:end])
            i = end
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def balanced(text, start, open_ch="(", close_ch=")"):
    """The text between text[start] == open_ch and its matching close_ch (exclusive)."""
    depth = 0
    i = start
    while i < len(text):
        ch = text[i]
        if ch == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch == open_ch:
            depth += 1
        elif ch == close_ch:
            depth -= 1
            if depth == 0:
                return text[start + 1:i]
        i += 1
    return None


def split_args(args):
    """Top-level comma-separated arguments."""
    parts, depth, cur, in_str, i = [], 0, [], False, 0
    while i < len(args):
        ch = args[i]
        if in_str:
            cur.append(ch)
            if ch == "\\" and i + 1 < len(args):
                cur.append(args[i + 1])
                i += 1
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
            cur.append(ch)
        elif ch in "([{<":
            depth += 1
            cur.append(ch)
        elif ch in ")]}>":
            depth -= 1
            cur.append(ch)
        elif ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        i += 1
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def loop_values(text, var):
    """String literals of the last `for (... var : {"a", "b"})` in text, or None."""
    found = re.findall(r"for\s*\([^;{}]*?\b" + re.escape(var) + r"\s*:\s*\{([^{}]*)\}\s*\)", text)
    if not found:
        return None
    return STRING.findall(found[-1])


def table_keys(text, var):
    """First strings of the {"config.key", "setting"} pairs of the table that
    `for (const auto& [var, ...] : table)` walks, or None."""
    found = list(re.finditer(
        r"for\s*\([^;{}]*?\[\s*" + re.escape(var) + r"\s*,[^\]]*\]\s*:\s*(\w+)\s*\)", text))
    if not found:
        return None
    m = found[-1]
    d = re.search(r"\b" + re.escape(m.group(1)) + r"\s*(?:\[\s*\d*\s*\])?\s*=\s*\{", text)
    if not d:
        return None
    body = balanced(text, d.end() - 1, "{", "}")
    keys = PAIR.findall(body or "")
    return keys or None


FUNCTION = re.compile(r"^[A-Za-z_][\w:<>,*& ]*?\b(\w+)\(([^;{}]*)\)\s*(?:const\s*)?\{", re.M)


def enclosing_function(text, pos):
    """(name, parameter list) of the function definition that starts last before pos."""
    best = None
    for m in FUNCTION.finditer(text):
        if m.start() > pos:
            break
        best = m
    if best is None:
        return None, []
    return best.group(1), split_args(best.group(2))


class Reads:
    def __init__(self):
        self.exact = defaultdict(set)      # key -> files
        self.subtrees = defaultdict(set)   # prefix (no dot) -> files
        self.patterns = defaultdict(set)   # "a.<>.c" -> files
        self.unresolved = []               # "file:line: text"


def scan(root):
    reads = Reads()
    sources = {}
    services = os.path.join(root, "services")
    for dirpath, _, files in os.walk(services):
        for f in sorted(files):
            if f.endswith(".cc"):
                p = os.path.join(dirpath, f)
                with open(p, encoding="utf-8") as fh:
                    sources[os.path.relpath(p, root)] = strip_comments(fh.read())

    sectioned = []  # (file, position, variable, suffix)
    for path, text in sources.items():
        for m in EXACT.finditer(text):
            reads.exact[m.group(1)].add(path)
        for m in SUBTREE.finditer(text):
            reads.subtrees[m.group(1)].add(path)
        for m in CONCAT.finditer(text):
            reads.patterns[m.group(1) + "<>" + m.group(2)].add(path)
        for m in SECTIONED.finditer(text):
            sectioned.append((path, m.start(), m.group(1), m.group(2)))

        for m in CONFIG_CALL.finditer(text):
            rest = text[m.end():]
            line = text.count("\n", 0, m.start()) + 1
            where = "%s:%d" % (path, line)
            if rest.startswith('"'):
                lit = re.match(r'"(' + KEY + r')"\s*(?:[,)]|\+)', rest)
                if not lit:
                    reads.unresolved.append(where + ": key literal not understood")
                continue  # exact, subtree or concatenation: matched above
            f = FORMAT.match(rest)
            if f:
                fmt, var = f.groups()
                values = loop_values(text[:m.start()], var)
                if "{}" not in fmt or fmt.count("{}") != 1 or values is None:
                    reads.unresolved.append(where + ": fmt::format key not understood")
                else:
                    for v in values:
                        reads.exact[fmt.replace("{}", v)].add(path)
                continue
            ident = re.match(r"([A-Za-z_]\w*)\s*(?:[,)]|(\+))", rest)
            if ident and ident.group(2):
                continue  # `service + ".suffix"`: SECTIONED above
            if ident:
                var = ident.group(1)
                values = loop_values(text[:m.start()], var)
                if values is None:
                    values = table_keys(text[:m.start()], var)
                if values is None:
                    reads.unresolved.append(where + ": key variable `%s` not resolved" % var)
                else:
                    for v in values:
                        reads.exact[v].add(path)
                continue
            reads.unresolved.append(where + ": key expression not understood: " +
                                    rest.split("\n", 1)[0].strip())

    # Get*(service + ".suffix"): the sections are the string literals passed as `service` to
    # the enclosing function.
    for path, pos, var, suffix in sectioned:
        name, params = enclosing_function(sources[path], pos)
        index = next((i for i, p in enumerate(params)
                      if re.search(r"\b" + re.escape(var) + r"$", p.strip())), None)
        sections = defaultdict(set)  # section -> files of its callers
        if name is not None and index is not None:
            call = re.compile(r"\b" + re.escape(name) + r"\(")
            for cpath, ctext in sources.items():
                for c in call.finditer(ctext):
                    args = balanced(ctext, c.end() - 1)
                    if args is None:
                        continue
                    args = split_args(args)
                    if index < len(args):
                        lit = re.fullmatch(r'"([a-z_]+)"', args[index])
                        if lit:
                            sections[lit.group(1)].add(cpath)
        if not sections:
            line = sources[path].count("\n", 0, pos) + 1
            reads.unresolved.append("%s:%d: %s + \"%s\": no caller passes a section name"
                                    % (path, line, var, suffix))
        for s, callers in sections.items():
            reads.exact[s + suffix].update({path} | callers)
    return reads


def documented(root):
    """(entries: entry -> line, problems) from the key tables of docs/configuration.md."""
    entries, problems = {}, []
    path = os.path.join(root, DOC)
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().split("\n")
    except OSError as e:
        return entries, ["cannot read %s: %s" % (DOC, e)]
    in_table = False
    for number, line in enumerate(lines, 1):
        s = line.strip()
        if not s.startswith("|"):
            in_table = False
            continue
        cells = [c.strip() for c in s.strip("|").split("|")]
        if not in_table:
            # A header row; the separator row follows it.
            in_table = True
            key_table = cells[0].lower() == "key"
            header = number
            continue
        if number == header + 1 or not key_table:
            continue
        m = re.fullmatch(r"`([a-z0-9_.\-<>*]+)`", cells[0])
        if not m:
            problems.append("%s:%d: the first cell must be one backticked key, got %r"
                            % (DOC, number, cells[0]))
            continue
        entry = m.group(1)
        if entry in entries:
            problems.append("%s:%d: `%s` is documented twice (first on line %d)"
                            % (DOC, number, entry, entries[entry]))
            continue
        if not re.fullmatch(r"[a-z0-9_\-]+(\.([a-z0-9_\-]+|<[a-z_]+>))*(\.\*)?", entry) or \
                entry.count("<") > 1 or ("<" in entry and entry.endswith("*")):
            problems.append("%s:%d: `%s` is neither a key, a `prefix.*` subtree nor a key with "
                            "one `<name>` segment" % (DOC, number, entry))
            continue
        entries[entry] = number
    if not entries and not problems:
        problems.append("%s: no table with a `key` column found" % DOC)
    return entries, problems


def canonical(entry):
    return re.sub(r"<[a-z_]+>", "<>", entry)


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().split("\n")[2], file=sys.stderr)
        return 2
    root = argv[1]
    reads = scan(root)
    if len(reads.exact) < 20:
        print("FAIL: only %d config keys found under %s/services: is the extraction broken?"
              % (len(reads.exact), root))
        return 1
    if "--list" in argv[2:]:
        for key in sorted(reads.exact):
            print("%-45s %s" % (key, ", ".join(sorted(reads.exact[key]))))
        for key in sorted(reads.subtrees):
            print("%-45s %s" % (key + ".*", ", ".join(sorted(reads.subtrees[key]))))
        for key in sorted(reads.patterns):
            print("%-45s %s" % (key, ", ".join(sorted(reads.patterns[key]))))
        for u in reads.unresolved:
            print("unresolved: " + u)
        return 0

    entries, problems = documented(root)
    exact_docs = {e for e in entries if "<" not in e and not e.endswith(".*")}
    subtree_docs = {e[:-2] for e in entries if e.endswith(".*")}
    pattern_docs = {canonical(e): e for e in entries if "<" in e}

    undocumented = []
    for key in sorted(reads.exact):
        if key not in exact_docs:
            undocumented.append("`%s` (read in %s)" % (key, ", ".join(sorted(reads.exact[key]))))
    for prefix in sorted(reads.subtrees):
        if prefix not in subtree_docs and not any(e.startswith(prefix + ".") for e in entries):
            undocumented.append("`%s.*` (read whole in %s)"
                                % (prefix, ", ".join(sorted(reads.subtrees[prefix]))))
    for pattern in sorted(reads.patterns):
        if pattern not in pattern_docs:
            undocumented.append("`%s` (read in %s; document it with one `<name>` segment)"
                                % (pattern, ", ".join(sorted(reads.patterns[pattern]))))

    unread = []
    for entry in sorted(entries, key=entries.get):
        if entry.endswith(".*"):
            ok = entry[:-2] in reads.subtrees
        elif "<" in entry:
            ok = canonical(entry) in reads.patterns
        else:
            ok = entry in reads.exact
        if not ok:
            unread.append("`%s` (%s:%d)" % (entry, DOC, entries[entry]))

    failed = False
    for title, items in (("keys read but not documented in " + DOC, undocumented),
                         ("documented keys nothing in services/ reads", unread),
                         ("config reads whose key this test cannot resolve", reads.unresolved),
                         ("malformed rows", problems)):
        if items:
            failed = True
            print("FAIL: %s:" % title)
            for item in items:
                print("  " + item)
    if failed:
        return 1
    print("OK: %d keys, %d subtrees and %d patterns read; %d entries documented in %s"
          % (len(reads.exact), len(reads.subtrees), len(reads.patterns), len(entries), DOC))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
