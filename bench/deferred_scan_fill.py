#!/usr/bin/python3
"""deferred_scan_fill - copies of one queue file with chosen time stamps.

    deferred_scan_fill.py [-p] sluice|postfix TEMPLATE SPOOL QUEUE COUNT MTIME_LO MTIME_HI

Writes COUNT byte-identical copies of TEMPLATE into SPOOL/QUEUE (hashed one
level deep when QUEUE is "deferred" or "defer": the default
hash_queue_names and hash_queue_depth of both systems), owned like the
template, mode 0700 (complete), with atime = mtime spread evenly over
MTIME_LO..MTIME_HI (seconds since the epoch; the queue managers read a
deferred file's mtime as its next delivery attempt).  With -p the queue IDs
are printed, one a line.

Each file is named after its own inode, as the real systems name them: it
is written under a temporary name in SPOOL/QUEUE, then renamed to
  sluice:  6 characters of seconds, 4 of microseconds, then the inode, base
           52 (docs/QUEUE.md "Queue IDs"; bench/queue_clone.py's encoding),
           hash folder = 10th character;
  postfix: Postfix's short queue ID (enable_long_queue_ids = no, the
           default): 5 hex digits of microseconds, then the inode in hex,
           hash folder = 1st character.
The microseconds are spread over 0..999999 so the files spread over the
hash folders as real ones do (52 folders for sluice, 16 for Postfix).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from queue_clone import fixed, free  # noqa: E402  (base-52 encodings)

HASHED = ("deferred", "defer")


def queue_id(kind, sec, usec, ino):
    """the queue ID and its hash folder character"""
    if kind == "sluice":
        name = fixed(sec, 6) + fixed(usec, 4) + free(ino)
        return name, name[9]
    name = "%05X%X" % (usec, ino)
    return name, name[0]


def main():
    args = sys.argv[1:]
    show = bool(args) and args[0] == "-p"
    if show:
        args = args[1:]
    if len(args) != 7 or args[0] not in ("sluice", "postfix"):
        sys.exit(__doc__)
    kind, template, spool, queue = args[0], args[1], args[2], args[3]
    count, lo, hi = int(args[4]), int(args[5]), int(args[6])
    if count < 0 or hi < lo:
        sys.exit("deferred_scan_fill: bad COUNT or MTIME range")
    with open(template, "rb") as f:
        data = f.read()
    st = os.stat(template)
    top = os.path.join(spool, queue)
    os.makedirs(top, mode=0o700, exist_ok=True)
    sec = int.from_bytes(os.urandom(2), "big") % 3600 + int(os.path.getmtime(template)) - 7200
    salt = int.from_bytes(os.urandom(3), "big")
    span = hi - lo + 1
    made = set()
    out = []
    for i in range(count):
        tmp = os.path.join(top, ".dsc.%d.%d" % (os.getpid(), i))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, data)
        os.fchown(fd, st.st_uid, st.st_gid)
        os.fchmod(fd, 0o700)
        when = lo + (i * 104729) % span
        os.utime(fd, (when, when))
        ino = os.fstat(fd).st_ino
        os.close(fd)
        usec = (salt + i * 7919) % 1000000
        name, hashch = queue_id(kind, sec + i // 1000000, usec, ino)
        where = os.path.join(top, hashch) if queue in HASHED else top
        if where not in made:
            os.makedirs(where, mode=0o700, exist_ok=True)
            os.chown(where, st.st_uid, st.st_gid)
            made.add(where)
        os.rename(tmp, os.path.join(where, name))
        if show:
            out.append(name)
    if show:
        sys.stdout.write("".join(n + "\n" for n in out))


if __name__ == "__main__":
    main()
