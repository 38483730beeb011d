"""Lookup tables against Debian's own Postfix tools (docs/TABLES.md).

Each indexed type (hash, btree, lmdb, cdb) is built by Postfix's postmap
and read by "sluice map -q", and built by "sluice map" and read by
"postmap -q", over one table of queries; aliases the same way with
postalias; regexp and pcre tables answer a shared list of queries exactly
as "postmap -q" does.  Postfix's tools run with -c pointing at a scratch
configuration folder, so they never touch /etc/postfix.
"""
import os
import shutil
import subprocess

import pytest

from conftest import SLUICE

POSTMAP = "/usr/sbin/postmap"
POSTALIAS = "/usr/sbin/postalias"

pytestmark = pytest.mark.skipif(
    not (os.access(POSTMAP, os.X_OK) and os.access(POSTALIAS, os.X_OK)),
    reason="Postfix's postmap/postalias are not installed (scripts/setup installs them)")

INDEXED = ["hash", "btree", "lmdb", "cdb"]

# A postmap source with what Postfix does to it: case folding of keys,
# continuation lines kept byte for byte, comments between a line and its
# continuation, trailing white space, a duplicate (the first one wins).
SOURCE = """\
# transport-like table
example.com      smtp:[127.0.0.1]:2525
.Example.COM     relay:[10.0.0.1]
User@Example.com local:
key3 v3
  continued here
# comment inside
\tand here
trailing   value with spaces   
dup first
dup second
with:colon  a:b:c
"""

QUERIES = ["example.com", "EXAMPLE.COM", ".example.com", "user@example.com",
           "USER@EXAMPLE.COM", "key3", "trailing", "dup", "with:colon", "missing",
           "example", "user"]


@pytest.fixture
def pf(tmp_path):
    """A scratch Postfix configuration folder and a work folder."""
    conf = tmp_path / "pfconf"
    conf.mkdir()
    (conf / "main.cf").write_text("compatibility_level = 3.6\n"
                                  f"queue_directory = {tmp_path}/pfq\n")
    work = tmp_path / "work"
    work.mkdir()
    return conf, work


def run(cmd, stdin=None):
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def postmap(conf, *args, stdin=None, tool=POSTMAP):
    return run([tool, "-c", str(conf), *args], stdin)


def sluice(*args, stdin=None):
    return run([SLUICE, *args], stdin)


def answers(query_fn, spec):
    """(rc, value) for every query, one process per query."""
    out = {}
    for q in QUERIES:
        rc, so, _ = query_fn(q, spec)
        out[q] = (rc, so)
    return out


@pytest.mark.parametrize("typ", INDEXED)
def test_postmap_builds_sluice_reads(pf, typ):
    conf, work = pf
    src = work / "table"
    src.write_text(SOURCE)
    spec = f"{typ}:{src}"
    rc, _, err = postmap(conf, spec)
    assert rc == 0, err
    want = answers(lambda q, s: postmap(conf, "-q", q, s), spec)
    got = answers(lambda q, s: sluice("map", "-q", q, s), spec)
    assert got == want
    assert want["key3"] == (0, "v3  continued here\tand here\n")
    assert want["missing"][0] == 1
    # The batch form, as postmap prints it.
    keys = "\n".join(QUERIES) + "\n"
    want_batch = postmap(conf, "-q", "-", spec, stdin=keys)
    got_batch = sluice("map", "-q", "-", spec, stdin=keys)
    assert got_batch[:2] == want_batch[:2]


@pytest.mark.parametrize("typ", INDEXED)
def test_sluice_builds_postmap_reads(pf, typ):
    conf, work = pf
    src = work / "table"
    src.write_text(SOURCE)
    spec = f"{typ}:{src}"
    rc, _, err = sluice("map", spec)
    assert rc == 0, err
    assert "duplicate entry \"dup\"" in err
    got = answers(lambda q, s: postmap(conf, "-q", q, s), spec)
    # What postmap answers from its own build of the same source.
    src2 = work / "table2"
    src2.write_text(SOURCE)
    rc, _, err = postmap(conf, f"{typ}:{src2}")
    assert rc == 0, err
    want = answers(lambda q, s: postmap(conf, "-q", q, s), f"{typ}:{src2}")
    assert got == want
    # Listing: every entry once, keys folded.
    rc, out, err = sluice("map", "-s", spec)
    assert rc == 0, err
    assert sorted(out.splitlines()) == sorted([
        "example.com\tsmtp:[127.0.0.1]:2525", ".example.com\trelay:[10.0.0.1]",
        "user@example.com\tlocal:", "key3\tv3  continued here\tand here",
        "trailing\tvalue with spaces", "dup\tfirst", "with:colon\ta:b:c"])


@pytest.mark.parametrize("typ", ["hash", "btree", "lmdb"])
def test_incremental_and_delete_seen_by_postmap(pf, typ):
    conf, work = pf
    src = work / "table"
    src.write_text("a 1\nb 2\n")
    spec = f"{typ}:{src}"
    assert sluice("map", spec)[0] == 0
    rc, _, err = sluice("map", "-i", spec, stdin="C 3\nb again\n")
    assert rc == 0, err
    assert postmap(conf, "-q", "c", spec)[:2] == (0, "3\n")
    assert postmap(conf, "-q", "b", spec)[:2] == (0, "2\n")   # first one kept
    assert sluice("map", "-d", "a", spec)[0] == 0
    assert sluice("map", "-d", "a", spec)[0] == 1
    assert postmap(conf, "-q", "a", spec)[0] == 1
    # And the other way: postmap deletes, sluice no longer finds.
    assert postmap(conf, "-d", "b", spec)[0] == 0
    assert sluice("map", "-q", "b", spec)[0] == 1


def test_cdb_cannot_be_updated_in_place(pf):
    _, work = pf
    src = work / "table"
    src.write_text("a 1\n")
    assert sluice("map", f"cdb:{src}")[0] == 0
    rc, _, err = sluice("map", "-d", "a", f"cdb:{src}")
    assert rc == 75 and "cannot be updated in place" in err


def test_bad_source_keeps_old_table(pf):
    _, work = pf
    src = work / "table"
    src.write_text("a 1\n")
    assert sluice("map", f"hash:{src}")[0] == 0
    src.write_text("a 2\nnovalue\n")
    rc, _, err = sluice("map", f"hash:{src}")
    assert rc == 75
    assert f"{src}:2: expected format: key whitespace value" in err
    assert sluice("map", "-q", "a", f"hash:{src}")[:2] == (0, "1\n")
    assert [f for f in os.listdir(work) if ".tmp." in f] == []


def test_missing_table_is_an_error_not_a_miss(pf):
    _, work = pf
    rc, _, err = sluice("map", "-q", "a", f"hash:{work}/nothing")
    assert rc == 75 and "nothing.db: No such file or directory" in err


def test_usage_errors():
    for args in (["map"], ["map", "-x", "hash:/x"], ["map", "-q"],
                 ["map", "-q", "a", "-s", "hash:/x"]):
        rc, _, err = sluice(*args)
        assert rc == 64, args
        assert "usage: sluice" in err


# The Debian default /etc/aliases, and then what sites add to it.
DEBIAN_ALIASES = """\
# See man 5 aliases for format
postmaster:    root
"""
MORE_ALIASES = """\
MAILER-DAEMON: postmaster
abuse: root,
  admin@example.com
"quoted name": someone
cmd: "|/usr/bin/procmail -a x", :include:/etc/mail/list
file: /var/log/mail.copy
list: a,b ,  c
"""


@pytest.mark.parametrize("typ", ["hash", "lmdb", "cdb"])
def test_aliases_both_ways(pf, typ):
    conf, work = pf
    for name in ("by_postalias", "by_sluice"):
        (work / name).write_text(DEBIAN_ALIASES + MORE_ALIASES)
    rc, _, err = postmap(conf, f"{typ}:{work}/by_postalias", tool=POSTALIAS)
    assert rc == 0, err
    rc, _, err = sluice("aliases", f"{typ}:{work}/by_sluice")
    assert rc == 0, err
    queries = ["postmaster", "mailer-daemon", "abuse", "quoted name", "cmd", "file",
               "list", "@", "nobody"]
    for q in queries:
        pa = postmap(conf, "-q", q, f"{typ}:{work}/by_postalias", tool=POSTALIAS)[:2]
        assert sluice("aliases", "-q", q, f"{typ}:{work}/by_postalias")[:2] == pa, q
        assert postmap(conf, "-q", q, f"{typ}:{work}/by_sluice", tool=POSTALIAS)[:2] == pa, q
    assert postmap(conf, "-q", "@", f"{typ}:{work}/by_sluice", tool=POSTALIAS)[:2] == (0, "@\n")


def test_newaliases_and_sendmail_bi(tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    aliases = tmp_path / "aliases"
    aliases.write_text(DEBIAN_ALIASES)
    (conf / "main.cf").write_text(f"alias_database = hash:{aliases}, cdb:{aliases}\n"
                                  f"queue_directory = {tmp_path}/q\n")
    link = tmp_path / "newaliases"
    os.symlink(SLUICE, link)
    rc, _, err = run([str(link), "-c", str(conf)])
    assert rc == 0, err
    for typ in ("hash", "cdb"):
        assert sluice("map", "-q", "postmaster", f"{typ}:{aliases}")[:2] == (0, "root\n")
    aliases.write_text(DEBIAN_ALIASES + "extra: root\n")
    rc, _, err = sluice("-c", str(conf), "sendmail", "-bi")
    assert rc == 0, err
    assert sluice("map", "-q", "extra", f"hash:{aliases}")[:2] == (0, "root\n")


# Pattern tables: one text for both engines, flags and all.
PATTERNS = r"""
# comment
/^postmaster@/          ok-postmaster
/^(.*)\+(.*)@(.*)$/     user=$1 ext=${2} domain=$3
/^CaseSensitive$/i      case-matched
!/@/                    no-at-sign
if /@example\.com$/
/^a/                    a-at-example
/^b(x)?(.*)@/           [$1][$2]
endif
/@example\.com$/        example-other
/^dollar@/              cost $$5
/^multi@/               first part
  second part
/a\/b@/                 slash
/^tail@x$/              tail
"""
PCRE_EXTRA = r"""
/^ungreedy-(.+)-(.+)@/U  [$1][$2]
/^Anch@/A                anchored
"""
PATTERN_QUERIES = ["postmaster@x.org", "POSTMASTER@x.org", "joe+box@example.org",
                   "casesensitive", "CaseSensitive", "nodomain", "alice@example.com",
                   "bob@example.com", "bx@example.com", "carol@example.com",
                   "dollar@x", "multi@x", "a/b@x", "tail@x", "nobody@x.org",
                   "ungreedy-aa-bb-cc@x", "Anch@x", "xAnch@x"]


@pytest.mark.parametrize("typ", ["regexp", "pcre"])
def test_pattern_tables_answer_as_postmap(pf, typ):
    conf, work = pf
    table = work / typ
    table.write_text(PATTERNS + (PCRE_EXTRA if typ == "pcre" else ""))
    spec = f"{typ}:{table}"
    for q in PATTERN_QUERIES:
        want = postmap(conf, "-q", q, spec)
        assert want[2] == "", want[2]          # postmap took every rule
        assert sluice("map", "-q", q, spec)[:2] == want[:2], q
    keys = "\n".join(PATTERN_QUERIES) + "\n"
    assert sluice("map", "-q", "-", spec, stdin=keys)[:2] == \
        postmap(conf, "-q", "-", spec, stdin=keys)[:2]


@pytest.mark.parametrize("typ,text,why", [
    ("regexp", "/ok/ a\n/(unclosed/ b\n", ":2: error in regexp pattern"),
    ("pcre", "/ok/ a\n\n/(unclosed/ b\n", ":3: error in pcre pattern"),
    ("regexp", "/a/q r\n", ":1: unknown regexp flag \"q\""),
    ("pcre", "/(a)/ $2\n", ":1: $2 in the result, but the pattern has 1 group"),
    ("pcre", "if /a/\n/b/ c\n", ":1: if without endif"),
    ("regexp", "endif\n", ":1: endif without if"),
    ("regexp", "/a/\n", ":1: missing result"),
])
def test_pattern_table_errors_name_file_and_line(pf, typ, text, why):
    _, work = pf
    table = work / "bad"
    table.write_text(text)
    rc, _, err = sluice("map", "-q", "x", f"{typ}:{table}")
    assert rc == 75
    assert f"{table}{why}" in err


def test_static_inline_union_pipe(pf):
    _, work = pf
    t = work / "t"
    t.write_text("a b\nb c\n")
    cases = [
        ("static:{any thing}", "whatever", (0, "any thing\n")),
        ("inline:{x=1, {y = 2, 3}}", "Y", (0, "2, 3\n")),
        (f"unionmap:{{texthash:{t}, inline:{{a=z}}}}", "a", (0, "b,z\n")),
        (f"pipemap:{{texthash:{t}, texthash:{t}}}", "a", (0, "c\n")),
        (f"pipemap:{{texthash:{t}, texthash:{t}}}", "b", (1, "")),
    ]
    for spec, key, want in cases:
        assert sluice("map", "-q", key, spec)[:2] == want, spec


# ---------------------------------------------------------------- daemons

@pytest.fixture
def harnesses():
    from agent_harness import AgentHarness
    made = []

    def make(*args, **kw):
        h = AgentHarness(*args, **kw)
        made.append(h)
        return h.start()
    yield make
    for h in made:
        h.cleanup()


@pytest.fixture
def lwork():
    """A scratch folder every account may reach (the agent may drop privileges)."""
    import tempfile
    d = tempfile.mkdtemp(prefix="sluice-tables-")
    os.chmod(d, 0o1777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_local_reads_hash_aliases_and_defers_when_unreadable(harnesses, lwork):
    aliases = os.path.join(lwork, "aliases")
    with open(aliases, "w") as f:
        f.write(DEBIAN_ALIASES + "Boss: " + lwork + "/boss.mbox\n")
    assert sluice("aliases", f"hash:{aliases}")[0] == 0
    h = harnesses("local", main_cf=(
        f"local_mailbox_base = {lwork}/mail\nalias_maps = hash:{aliases}\n"))
    qid = h.make_message(["boss@sluice.test"])
    assert h.deliver(qid)["sent"] == "1", h.log()
    assert os.path.exists(os.path.join(lwork, "boss.mbox"))

    # The same table gone: defer, never "no alias" (that would deliver to a
    # mailbox the alias redirects from).
    os.unlink(aliases + ".db")
    h2 = harnesses("local", main_cf=(
        f"local_mailbox_base = {lwork}/mail2\nalias_maps = hash:{aliases}\n"))
    qid = h2.make_message(["boss@sluice.test"])
    assert h2.deliver(qid)["deferred"] == "1"
    assert h2.outcome(qid, "boss@sluice.test") == (
        "deferred", "4.3.0", "lookup table not available")
    assert "aliases.db: No such file or directory" in h2.log()
    assert not os.path.exists(os.path.join(lwork, "mail2"))
