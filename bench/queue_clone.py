#!/usr/bin/python3
"""queue_clone - fill a queue folder with copies of one queue file, fast.

    queue_clone.py TEMPLATE FOLDER COUNT sluice|postfix [HASH_DEPTH [LOG LOG_FOLDER]]

Writes COUNT copies of TEMPLATE into FOLDER, each under its own valid queue
ID, mode 0700 (complete), owned like the template.  "sluice" names follow
docs/QUEUE.md (6 characters of seconds, 4 of microseconds, then the inode
part, base 52, no leading '0' in the inode part) and, with HASH_DEPTH > 0,
go into the hash folders queue_path() would use (10th character, then 9th,
...); "postfix" names follow Postfix's long queue IDs (10 characters of time,
'z', then an inode part), flat.  The copies are byte-identical (same
arrival time, sender and recipients): the listing benchmark measures
reading and formatting, not variety.  Making 100,000 files this way takes
seconds, where one qfmake run per file would take minutes.

With LOG and LOG_FOLDER, each copy also gets a copy of the file LOG under
the same name (and the same hash folders) in LOG_FOLDER: a defer log for
every deferred message.
"""
import os
import sys
import time

ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"


def fixed(value, width):
    """value in base 52, zero-padded to width characters."""
    out = []
    for _ in range(width):
        value, digit = divmod(value, 52)
        out.append(ALPHABET[digit])
    return "".join(reversed(out))


def free(value):
    """value in base 52 without leading zeros (value > 0)."""
    out = []
    while value:
        value, digit = divmod(value, 52)
        out.append(ALPHABET[digit])
    return "".join(reversed(out))


def main():
    if len(sys.argv) not in (5, 6, 8) or sys.argv[4] not in ("sluice", "postfix"):
        sys.exit(__doc__)
    template, folder, count, kind = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    depth = int(sys.argv[5]) if len(sys.argv) >= 6 else 0
    log = log_folder = None
    if len(sys.argv) == 8:
        with open(sys.argv[6], "rb") as f:
            log = f.read()
        log_folder = sys.argv[7]
    with open(template, "rb") as f:
        data = f.read()
    st = os.stat(template)
    sec = int(time.time()) - 3600
    for i in range(count):
        time_part = fixed(sec + i // 1000000, 6) + fixed(i % 1000000, 4)
        if kind == "sluice":
            name = time_part + free(i + 1)
        else:
            name = time_part + "z" + free(i + 1)
        where = folder
        for level in range(depth):
            where = os.path.join(where, name[9 - level])
        if depth:
            os.makedirs(where, mode=0o700, exist_ok=True)
        path = os.path.join(where, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, data)
        os.fchown(fd, st.st_uid, st.st_gid)
        os.fchmod(fd, 0o700)
        os.close(fd)
        if log is not None:
            where = os.path.join(log_folder, os.path.relpath(os.path.dirname(path), folder))
            os.makedirs(where, mode=0o700, exist_ok=True)
            fd = os.open(os.path.join(where, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, log)
            os.fchown(fd, st.st_uid, st.st_gid)
            os.close(fd)


if __name__ == "__main__":
    main()
