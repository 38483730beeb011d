"""crashsim - replay an strace of sluice's file system calls onto a model of
the queue folder and cut it anywhere, as ALICE and CrashMonkey do.

record: `strace -f -ttt -qq -yy -xx -s BIG -e trace=TRACED` (every string
and path in hex, every descriptor with its path).  parse_trace() turns the
lines of one or more such files into normalised operations on inodes:

  ("create", path, ino, kind, mode)   ("write", ino, offset, data)
  ("trunc", ino, length)              ("rename", old, new)
  ("link", old, new)                  ("unlink", path)
  ("chmod", ino, mode)                ("chown", ino, uid, gid)
  ("fsync", ino)                      ("syncall",)
  ("exit", pid, status)               (a traced process ended)

each with its time.  state_at(k, model) is the queue folder a crash right
after operation k leaves behind, under one of these models:

  prefix   every operation up to the cut persisted, nothing after it (a
           process crash; and at fsync/rename cuts, "everything up to the
           last fsync/rename persisted, the rest dropped")
  data     names (create, rename, link, unlink) and modes persisted up to the
           cut, but a file's bytes only as of its last fsync (or syncfs/
           sync): "rename persisted but file data not synced"
  strict   as data, and a name change persisted only once the folder it
           touched (both folders of a rename) was fsynced, or syncfs/sync:
           POSIX's promise with nothing more
  names    as strict, and also once the file it names was fsynced: ext4
           (with a journal or without: there the fsync of a newly named
           inode writes its folder), XFS and btrfs commit a file's names
           with its fsync (sluice's queue_folder_fsync = no relies on it)
"""
import os
import re
import stat

TRACED = ("open,openat,creat,close,dup,dup2,dup3,fcntl,write,pwrite64,writev,pwritev,"
          "pwritev2,lseek,ftruncate,truncate,fsync,fdatasync,syncfs,sync,rename,renameat,"
          "renameat2,link,linkat,unlink,unlinkat,mkdir,mkdirat,rmdir,mknod,mknodat,chmod,"
          "fchmod,fchmodat,chown,fchown,fchownat,lchown,chdir,fchdir,clone,clone3,fork,vfork")

LINE = re.compile(r"^(\d+)\s+(\d+\.\d+) (.*)$")
HEX = re.compile(r'"((?:\\x[0-9a-f]{2})*)"(\.\.\.)?')
DECOR = re.compile(r"<((?:\\x[0-9a-f]{2})*)>")


def unhex(s):
    return bytes.fromhex(s.replace("\\x", ""))


class Tok:
    """An argument: text (flags, numbers), data (a decoded string) and path
    (the decoration of a descriptor or AT_FDCWD)."""
    __slots__ = ("text", "data", "path", "items")

    def __init__(self, text="", data=None, path=None, items=None):
        self.text, self.data, self.path, self.items = text, data, path, items

    def num(self):
        return int(self.text, 0)


def fdnum(t):
    m = re.match(r"\s*(-?\d+)", t.text)
    return int(m.group(1)) if m else None


def split_args(s):
    """Top-level arguments of a call's argument text, as Toks."""
    return [tok(a) for a in split_raw(s)]


def split_raw(s):
    """Top-level arguments of a call's argument text."""
    out, depth, cur, i = [], 0, [], 0
    while i < len(s):
        c = s[i]
        if c == '"':
            j = s.index('"', i + 1)
            cur.append(s[i:j + 1])
            i = j + 1
            continue
        if c in "[{(":
            depth += 1
        elif c in "]})":
            depth -= 1
        elif c == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    if cur and "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


def tok(a):
    t = Tok(a)
    m = HEX.fullmatch(a)
    if m:
        t.data = unhex(m.group(1))
        return t
    m = DECOR.search(a)
    if m and not a.startswith("["):
        t.path = unhex(m.group(1)).decode(errors="surrogateescape")
        t.text = a[:m.start()]
    if a.startswith("[") or a.startswith("{"):
        t.items = split_args(a[1:-1])
    if "=" in a and not a.startswith(("[", "{", '"')):
        k, v = a.split("=", 1)
        t.text = k
        t.items = [tok(v)]
    return t


def parse_lines(paths, with_source=False):
    """(time, pid, call, args text, result text) of every completed call,
    and ("+exit", pid, status) events, from several trace files, by time
    (with_source: a sixth field, the index of the file in paths)."""
    events = []
    for src, path in enumerate(paths):
        pending = {}
        with open(path, errors="surrogateescape") as f:
            for raw in f:
                m = LINE.match(raw.rstrip("\n"))
                if not m:
                    continue
                pid, ts, rest = int(m.group(1)), float(m.group(2)), m.group(3)
                if rest.startswith("+++ exited with "):
                    events.append((ts, pid, "+exit", int(rest.split()[3]), None, src))
                    continue
                if rest.startswith("+++ killed by"):
                    events.append((ts, pid, "+exit", -1, None, src))
                    continue
                if rest.startswith("---"):
                    continue
                if rest.endswith("<unfinished ...>"):
                    pending[pid] = rest[:-len("<unfinished ...>")].rstrip()
                    continue
                m2 = re.match(r"<\.\.\. (\w+) resumed>(.*)$", rest)
                if m2:
                    rest = pending.pop(pid, m2.group(1) + "(") + m2.group(2)
                m3 = re.match(r"^(\w+)\((.*)\)\s+= (.*)$", rest)
                if not m3:
                    continue
                events.append((ts, pid, m3.group(1), m3.group(2), m3.group(3), src))
    events.sort(key=lambda e: e[0])
    if not with_source:
        return [e[:5] for e in events]
    return events


class Inode:
    __slots__ = ("kind", "data", "synced", "mode", "uid", "gid")

    def __init__(self, kind, data=b"", mode=0o600, uid=0, gid=0, synced=None):
        self.kind, self.data, self.mode, self.uid, self.gid = kind, bytearray(data), mode, uid, gid
        self.synced = bytes(data) if synced is None else synced


def snapshot(root):
    """(namespace, inodes) of a folder on disk: every file synced."""
    ns, inodes = {}, {}
    n = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [""] + dirnames + filenames:
            if name == "" and dirpath != root:
                continue
            p = os.path.join(dirpath, name) if name else dirpath
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode):
                kind, data = "d", b""
            elif stat.S_ISREG(st.st_mode):
                kind = "f"
                with open(p, "rb") as f:
                    data = f.read()
            elif stat.S_ISFIFO(st.st_mode):
                kind, data = "p", b""
            else:
                continue        # sockets: master makes them again
            n += 1
            inodes[n] = Inode(kind, data, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
            ns[os.path.normpath(p)] = n
    return ns, inodes, n


class Trace:
    """The operations of a recording, after the snapshot of root at t0."""

    def __init__(self, root, paths, t0, snap=None, owners=None):
        """root: the traced folder; snap: a copy of it taken at t0 (default
        root itself, as it is now); owners: {index in paths: (uid, gid)} of
        the files the processes of that trace create (default: the owner of
        the queue folder they are created in, as for mail_owner's daemons)."""
        self.owners = owners or {}
        self.root = os.path.normpath(root)
        ns0, self.inodes0, self.next_ino = snapshot(snap or root)
        base = os.path.normpath(snap or root)
        self.ns0 = {os.path.normpath(os.path.join(self.root, os.path.relpath(p, base))): i
                    for p, i in ns0.items()}
        self.ops = []           # (time, op)
        self.pids = set()
        self._parse(paths, t0)

    def inside(self, p):
        return p is not None and (p == self.root or p.startswith(self.root + "/"))

    def _parse(self, paths, t0):
        ns = dict(self.ns0)
        fds = {}                # (pid, fd) -> [ino or None, pos, append, path]
        cwd = {}
        ops = self.ops

        def new_ino():
            self.next_ino += 1
            return self.next_ino

        def at(pid, dirtok, ptok):
            p = ptok.data.decode(errors="surrogateescape")
            if p.startswith("/"):
                return os.path.normpath(p)
            base = dirtok.path if dirtok is not None and dirtok.path else cwd.get(pid, "/")
            return os.path.normpath(os.path.join(base, p))

        def fd_ino(pid, t):
            d = fds.get((pid, fdnum(t)))
            p = t.path
            if d is not None and d[0] is not None:
                return d[0], d
            if p and p.endswith(" (deleted)"):
                return None, d
            if p is not None and os.path.normpath(p) in ns:
                ino = ns[os.path.normpath(p)]
                if d is not None:
                    d[0] = ino
                return ino, d
            return None, d

        def ns_path_of(ino):
            for p, i in ns.items():
                if i == ino:
                    return p
            return None

        for ts, pid, call, args, res, src in parse_lines(paths, True):
            if call == "+exit":
                ops.append((ts, ("exit", pid, args)))
                continue
            ok = not res.startswith("-1") and not res.startswith("?")
            if not ok:
                continue
            a = split_args(args)
            rtok = tok(res.split(" ")[0]) if res else None
            if call in ("clone", "clone3", "fork", "vfork"):
                child = int(res.split()[0])
                for (p, fd), d in list(fds.items()):
                    if p == pid:
                        fds[(child, fd)] = d
                cwd[child] = cwd.get(pid, "/")
                continue
            if call == "chdir":
                cwd[pid] = at(pid, None, a[0])
                continue
            if call == "fchdir":
                if a[0].path:
                    cwd[pid] = a[0].path
                continue
            live = ts >= t0
            if call in ("open", "openat", "creat"):
                if call == "openat":
                    path, flags = at(pid, a[0], a[1]), a[2].text
                elif call == "open":
                    path, flags = at(pid, None, a[0]), a[1].text
                else:
                    path, flags = at(pid, None, a[0]), "O_CREAT|O_TRUNC|O_WRONLY"
                fd = int(re.match(r"-?\d+", res).group(0))
                if not self.inside(path):
                    fds.pop((pid, fd), None)
                    continue
                mode = 0o600
                margs = a[3] if call == "openat" and len(a) > 3 else (
                    a[2] if call == "open" and len(a) > 2 else None)
                if margs is not None:
                    mode = int(margs.text, 8)
                if not live:
                    fds[(pid, fd)] = [None, 0, "O_APPEND" in flags, path]
                    continue
                ino = ns.get(path)
                if ino is None and "O_CREAT" in flags:
                    ino = new_ino()
                    ns[path] = ino
                    ops.append((ts, ("create", path, ino, "f", mode, self.owners.get(src))))
                elif ino is not None and "O_TRUNC" in flags:
                    ops.append((ts, ("trunc", ino, 0)))
                fds[(pid, fd)] = [ino, 0, "O_APPEND" in flags, path]
                continue
            if call == "close":
                fds.pop((pid, fdnum(a[0])), None)
                continue
            if call in ("dup", "dup2", "dup3") or (call == "fcntl" and "F_DUPFD" in args):
                src = fds.get((pid, fdnum(a[0])))
                nfd = int(re.match(r"-?\d+", res).group(0))
                if src is not None:
                    fds[(pid, nfd)] = src
                else:
                    fds.pop((pid, nfd), None)
                continue
            if call == "lseek":
                d = fds.get((pid, fdnum(a[0])))
                if d is not None:
                    d[1] = int(res.split()[0])
                continue
            if call in ("write", "pwrite64", "writev", "pwritev", "pwritev2"):
                n = int(res.split()[0])
                ino, d = fd_ino(pid, a[0])
                if call in ("write", "pwrite64"):
                    data = a[1].data or b""
                else:
                    data = b"".join(it.items[0].items[0].data or b""
                                    for it in (a[1].items or []) if it.items)
                data = data[:n]
                if call in ("pwrite64", "pwritev", "pwritev2"):
                    off = int(a[-1].text if call != "pwritev2" else a[-2].text, 0)
                elif d is not None and d[2]:
                    off = -1            # O_APPEND: at the end
                else:
                    off = d[1] if d is not None else 0
                    if d is not None:
                        d[1] += n
                if ino is not None and live and (d is None or self.inside(d[3]) or
                                                 self.inside(a[0].path)):
                    ops.append((ts, ("write", ino, off, data)))
                continue
            if call in ("ftruncate", "truncate"):
                if call == "ftruncate":
                    ino, _ = fd_ino(pid, a[0])
                else:
                    ino = ns.get(at(pid, None, a[0]))
                if ino is not None and live:
                    ops.append((ts, ("trunc", ino, int(a[1].text, 0))))
                continue
            if call in ("fsync", "fdatasync"):
                ino, _ = fd_ino(pid, a[0])
                if ino is not None and live:
                    ops.append((ts, ("fsync", ino)))
                continue
            if call in ("syncfs", "sync"):
                if live:
                    ops.append((ts, ("syncall",)))
                continue
            if call in ("rename", "renameat", "renameat2", "link", "linkat"):
                if call in ("rename", "link"):
                    old, new = at(pid, None, a[0]), at(pid, None, a[1])
                else:
                    old, new = at(pid, a[0], a[1]), at(pid, a[2], a[3])
                if not (self.inside(old) or self.inside(new)):
                    continue
                kind = "link" if call.startswith("link") else "rename"
                if old in ns and live:
                    ino = ns[old]
                    if kind == "rename":
                        moved = {p: i for p, i in ns.items()
                                 if p == old or p.startswith(old + "/")}
                        for p in moved:
                            del ns[p]
                        for p, i in moved.items():
                            ns[new + p[len(old):]] = i
                    else:
                        ns[new] = ino
                    ops.append((ts, (kind, old, new)))
                continue
            if call in ("unlink", "unlinkat", "rmdir"):
                path = at(pid, a[0], a[1]) if call == "unlinkat" else at(pid, None, a[0])
                if path in ns and live:
                    del ns[path]
                    ops.append((ts, ("unlink", path)))
                continue
            if call in ("mkdir", "mkdirat", "mknod", "mknodat"):
                if call in ("mkdirat", "mknodat"):
                    path, m = at(pid, a[0], a[1]), a[2].text
                else:
                    path, m = at(pid, None, a[0]), a[1].text
                if not self.inside(path) or not live:
                    continue
                kind = "d" if call.startswith("mkdir") else ("p" if "S_IFIFO" in m else None)
                if kind is None:
                    continue
                mode = int(re.search(r"0[0-7]*", m.split("|")[-1]).group(0), 8)
                ino = new_ino()
                ns[path] = ino
                ops.append((ts, ("create", path, ino, kind, mode, self.owners.get(src))))
                continue
            if call in ("chmod", "fchmod", "fchmodat"):
                if call == "fchmod":
                    ino, _ = fd_ino(pid, a[0])
                    m = a[1].text
                elif call == "chmod":
                    ino, m = ns.get(at(pid, None, a[0])), a[1].text
                else:
                    ino, m = ns.get(at(pid, a[0], a[1])), a[2].text
                if ino is not None and live:
                    ops.append((ts, ("chmod", ino, int(m, 8))))
                continue
            if call in ("chown", "fchown", "fchownat", "lchown"):
                if call == "fchown":
                    ino, _ = fd_ino(pid, a[0])
                    u, g = a[1].text, a[2].text
                elif call == "fchownat":
                    ino, u, g = ns.get(at(pid, a[0], a[1])), a[2].text, a[3].text
                else:
                    ino, u, g = ns.get(at(pid, None, a[0])), a[1].text, a[2].text
                if ino is not None and live:
                    ops.append((ts, ("chown", ino, int(u), int(g))))
                continue
        del ns_path_of

    # ---- crash states ----
    def state_at(self, k, model):
        """(namespace, inodes) after a crash right after ops[k] (k = -1:
        before the first)."""
        ns = dict(self.ns0)
        inodes = {i: Inode(n.kind, bytes(n.data), n.mode, n.uid, n.gid)
                  for i, n in self.inodes0.items()}
        ops = [op for _, op in self.ops[:k + 1]]
        durable = None
        if model in ("strict", "names"):
            durable = self._durable_names(ops, model == "names")
        for idx, op in enumerate(ops):
            kind = op[0]
            if kind == "create":
                _, path, ino, ikind, mode, owner = op
                if owner is None:
                    top = os.path.join(self.root, os.path.relpath(path, self.root).split("/")[0])
                    d = inodes.get(ns.get(top))
                    owner = (d.uid, d.gid) if d else (0, 0)
                inodes[ino] = Inode(ikind, b"", mode, owner[0], owner[1], synced=b"")
                if durable is None or idx in durable:
                    ns[path] = ino
            elif kind == "write":
                _, ino, off, data = op
                n = inodes.get(ino)
                if n is None:
                    continue
                if off < 0:
                    off = len(n.data)
                if len(n.data) < off:
                    n.data.extend(b"\0" * (off - len(n.data)))
                n.data[off:off + len(data)] = data
            elif kind == "trunc":
                n = inodes.get(op[1])
                if n is not None:
                    del n.data[op[2]:]
                    n.data.extend(b"\0" * (op[2] - len(n.data)))
            elif kind in ("rename", "link"):
                if durable is not None and idx not in durable:
                    continue
                _, old, new = op
                if old not in ns:
                    continue
                if kind == "link":
                    ns[new] = ns[old]
                    continue
                moved = {p: i for p, i in ns.items() if p == old or p.startswith(old + "/")}
                for p in moved:
                    del ns[p]
                for p, i in moved.items():
                    ns[new + p[len(old):]] = i
            elif kind == "unlink":
                if durable is not None and idx not in durable:
                    continue
                ns.pop(op[1], None)
            elif kind == "chmod":
                if op[1] in inodes:
                    inodes[op[1]].mode = op[2]
            elif kind == "chown":
                if op[1] in inodes:
                    inodes[op[1]].uid, inodes[op[1]].gid = op[2], op[3]
            elif kind == "fsync":
                if op[1] in inodes:
                    inodes[op[1]].synced = bytes(inodes[op[1]].data)
            elif kind == "syncall":
                for n in inodes.values():
                    n.synced = bytes(n.data)
        if model in ("data", "strict", "names"):
            for n in inodes.values():
                n.data = bytearray(n.synced)
        return ns, inodes

    def _durable_names(self, ops, by_file=False):
        """Indexes of the name operations that a later fsync of their
        folder(s), or a syncfs/sync, made durable; by_file: also a later
        fsync of the inode the operation names (a create, a rename within
        one folder, a link)."""
        out = set()
        pending = []            # (idx, folder inodes still to sync, named inode)
        ns = dict(self.ns0)

        def folder_ino(p):
            return ns.get(os.path.dirname(p))
        for idx, op in enumerate(ops):
            kind = op[0]
            if kind == "create":
                pending.append((idx, {folder_ino(op[1])}, op[2]))
                ns[op[1]] = op[2]
            elif kind == "rename":
                # Within one folder only: ext4 without a journal writes the
                # new name's folder alone at the file's fsync.
                same = os.path.dirname(op[1]) == os.path.dirname(op[2])
                pending.append((idx, {folder_ino(op[1]), folder_ino(op[2])},
                                ns.get(op[1]) if same else None))
                if op[1] in ns:
                    ns[op[2]] = ns.pop(op[1])
            elif kind == "link":
                pending.append((idx, {folder_ino(op[2])}, ns.get(op[1])))
                if op[1] in ns:
                    ns[op[2]] = ns[op[1]]
            elif kind == "unlink":
                pending.append((idx, {folder_ino(op[1])}, None))
                ns.pop(op[1], None)
            elif kind == "fsync":
                for i, folders, ino in pending:
                    folders.discard(op[1])
                    if not folders or folders == {None} or (by_file and ino == op[1]):
                        out.add(i)
                pending = [p for p in pending if p[0] not in out]
            elif kind == "syncall":
                out.update(p[0] for p in pending)
                pending = []
        return out

    def materialize(self, state, dest):
        """Write a crash state into dest (replacing self.root's place)."""
        ns, inodes = state
        for path in sorted(ns, key=lambda p: (p.count("/"), p)):
            rel = os.path.relpath(path, self.root)
            out = os.path.normpath(os.path.join(dest, rel))
            n = inodes[ns[path]]
            parent = os.path.dirname(out)
            if not os.path.isdir(parent):
                continue            # its folder did not survive
            if n.kind == "d":
                os.makedirs(out, exist_ok=True)
            elif n.kind == "p":
                os.mkfifo(out)
            else:
                with open(out, "wb") as f:
                    f.write(bytes(n.data))
            os.chmod(out, n.mode & 0o7777)
            os.lchown(out, n.uid, n.gid)
