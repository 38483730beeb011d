#!/usr/bin/python3
"""defer_log_make - one defer log for a queue file, for the listing benchmark.

    defer_log_make.py sluice|postfix QUEUE_FILE REASON > LOG

Writes a defer log with one record for the queue file's first recipient,
as the system named would have written it after a failed delivery: sluice's
status log (docs/QUEUE.md section 6: the recipient's identity is the
offset of its R record, found from the size record), or Postfix's bounce
log format (name=value lines: recipient, offset, dsn_orig_rcpt,
notify_flags, status, action, reason; an empty line ends the record; the
offset is found by walking Postfix's records: type byte, length in 7-bit
groups, data).
"""
import sys
import time


def sluice_first_rcpt(data):
    fields = data[2:97].split()
    off = int(fields[2])
    # The template's one recipient has no O/o/n records: its R record is
    # where the recipient segment starts.
    if data[off:off + 1] != b"R":
        sys.exit("defer_log_make: no R record at the recipient offset %d" % off)
    return off


def postfix_records(data):
    pos = 0
    while pos < len(data):
        rtype = data[pos]
        n, shift, p = 0, 0, pos + 1
        while True:
            b = data[p]
            n |= (b & 0x7f) << shift
            p += 1
            if not b & 0x80:
                break
            shift += 7
        yield pos, chr(rtype), data[p:p + n]
        pos = p + n


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("sluice", "postfix"):
        sys.exit(__doc__)
    kind, path, reason = sys.argv[1:]
    with open(path, "rb") as f:
        data = f.read()
    if kind == "sluice":
        off = sluice_first_rcpt(data)
        rcpt = "rcpt@example.test"	# what queue_listing.sh made the template for
        rec = ("recipient=%s\norig_rcpt=\noffset=%d\ndsn_orcpt=\nnotify=0\nstatus=4.4.1\n"
               "action=delayed\nreason=%s\nmta=\ndiag_type=\ndiag_text=\ntime=%.6f\n\n"
               % (rcpt, off, reason, time.time()))
    else:
        for off, rtype, body in postfix_records(data):
            if rtype == "R":
                rcpt = body.decode()
                break
        else:
            sys.exit("defer_log_make: no recipient record")
        rec = ("recipient=%s\noffset=%d\ndsn_orig_rcpt=\nnotify_flags=0\nstatus=4.4.1\n"
               "action=delayed\nreason=%s\n\n" % (rcpt, off, reason))
    sys.stdout.write(rec)


if __name__ == "__main__":
    main()
