"""Clients of sluice's smtpd for the smtpd tests (test_smtpd*.py): start()
writes main.cf with the relay rules those tests share and starts the
instance; Raw speaks SMTP by hand over a plain socket, from 127.0.0.1 or,
with outside=True, from OUTSIDE (127.0.0.9, outside mynetworks =
127.0.0.1/32, so that client restrictions and anvil's limits apply)."""
import socket

OUTSIDE = "127.0.0.9"
RELAY_REJECT = "permit_mynetworks, reject_unauth_destination"


def start(instance, **params):
    """main.cf with mynetworks 127.0.0.1/32 and reject_unauth_destination
    (so relay refusals are 554 5.7.1) plus params; start; the smtpd port."""
    base = dict(mynetworks="127.0.0.1/32", smtpd_relay_restrictions=RELAY_REJECT)
    base.update(params)
    instance.write_config(**base)
    instance.start()
    return instance.smtpd_port


class Raw:
    """A plain socket speaking SMTP by hand; it reads nothing until asked
    (reply() reads the greeting)."""

    def __init__(self, instance, outside=False, timeout=30):
        self.s = socket.create_connection(("127.0.0.1", instance.smtpd_port), timeout=timeout,
                                          source_address=(OUTSIDE, 0) if outside else None)
        self.f = self.s.makefile("rb")

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def reply(self):
        """One reply, its lines joined with newlines; None at end of file."""
        lines = []
        while True:
            line = self.f.readline()
            if not line:
                return None
            lines.append(line.decode().rstrip("\r\n"))
            if line[3:4] != b"-":
                return "\n".join(lines)

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def close(self):
        self.f.close()
        self.s.close()
