"""Postfix's own smtpd as a test peer: a private Postfix instance (its own
configuration and queue directories under a temporary folder, never
/etc/postfix, never port 25) listening on a loopback port.

Only smtpd runs (with anvil, proxymap, trivial-rewrite and postlogd, which it
needs); every
accepted transaction is passed on, as it happens, to an aiosmtpd sink
through smtpd_proxy_filter, so a test sees what Postfix accepted in the
sink and what Postfix thought in its maillog (e.g. "sasl_username=").

SMTP AUTH: Cyrus SASL with a sasldb made by saslpasswd2 (sasl2-bin).
Debian's Postfix reads its SASL application file from
<config_directory>/sasl/smtpd.conf (cyrus_sasl_config_path is not used by
Debian's build), and smtpd runs as the postfix user, so the sasldb is
given to postfix.  Every service runs unchrooted (chroot column n).
"""
import os
import shutil
import socket
import subprocess
import tempfile
import time

POSTFIX = "/usr/sbin/postfix"
SASLPASSWD2 = "/usr/sbin/saslpasswd2"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def can_run_postfix():
    return os.geteuid() == 0 and os.path.exists(POSTFIX) and os.path.exists(SASLPASSWD2)


class PostfixSmtpd:
    def __init__(self, sink_port, users=(), realm="example.test", extra=None, master_opts="",
                 host="127.0.0.1", port=None):
        """users: (name, password) pairs for the sasldb (login name is
        name@realm); extra: more main.cf settings."""
        self.base = tempfile.mkdtemp(prefix="sluice-pf-")
        os.chmod(self.base, 0o755)
        self.conf = os.path.join(self.base, "conf")
        self.spool = os.path.join(self.base, "spool")
        self.data = os.path.join(self.base, "data")
        self.maillog = os.path.join(self.base, "maillog")
        self.sasldb = os.path.join(self.base, "sasldb2")
        for d in (self.conf, self.spool, self.data, os.path.join(self.conf, "sasl")):
            os.makedirs(d)
        shutil.chown(self.data, "postfix")
        self.host = host
        self.port = port or free_port()
        settings = {
            "compatibility_level": "3.6",
            "queue_directory": self.spool,
            "data_directory": self.data,
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.base,
            "myhostname": "pf.test",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",	# master.cf names the address
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.1/32",
            "local_recipient_maps": "",
            "alias_maps": "",
            "smtpd_proxy_filter": "127.0.0.1:%d" % sink_port,
            "smtpd_sasl_auth_enable": "yes",
            "smtpd_sasl_type": "cyrus",
            "smtpd_sasl_path": "smtpd",
            "cyrus_sasl_config_path": os.path.join(self.conf, "sasl"),
            "smtpd_sasl_security_options": "noanonymous",
            # Only a login lets mail through.
            "smtpd_relay_restrictions": "permit_sasl_authenticated, reject",
            "smtpd_recipient_restrictions": "",
        }
        settings.update(extra or {})
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            for k, v in settings.items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write("%s:%d inet n - n - - smtpd %s\n" % (host, self.port, master_opts))
            f.write("anvil unix - - n - 1 anvil\n")
            f.write("proxymap unix - - n - - proxymap\n")
            f.write("rewrite unix - - n - - trivial-rewrite\n")
            f.write("postlog unix-dgram n - n - 1 postlogd\n")
        with open(os.path.join(self.conf, "sasl", "smtpd.conf"), "w") as f:
            f.write("pwcheck_method: auxprop\nauxprop_plugin: sasldb\n"
                    "sasldb_path: %s\nmech_list: PLAIN LOGIN\n" % self.sasldb)
        for name, password in users:
            subprocess.run([SASLPASSWD2, "-p", "-f", self.sasldb, "-c", "-u", realm, name],
                           input=password.encode() + b"\n", check=True, capture_output=True)
        if users:
            shutil.chown(self.sasldb, "postfix")
        self._postfix("start")
        deadline = time.time() + 20
        while True:
            try:
                socket.create_connection((host, self.port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise RuntimeError("postfix smtpd did not start:\n" + self.log())
                time.sleep(0.1)

    @property
    def nexthop(self):
        return "[%s]:%d" % (self.host, self.port)

    def _postfix(self, cmd):
        # The postfix command prints its diagnostics only to a tty.
        p = subprocess.run(["script", "-qec", "%s -c %s %s" % (POSTFIX, self.conf, cmd),
                            "/dev/null"], capture_output=True, timeout=60)
        if p.returncode != 0:
            raise RuntimeError("postfix %s failed: %s\n%s" % (cmd, p.stdout.decode(
                errors="replace"), self.log()))

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, needle, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if needle in self.log():
                return True
            time.sleep(0.05)
        raise AssertionError("no %r in the Postfix maillog:\n%s" % (needle, self.log()[-3000:]))

    def stop(self):
        pidfile = os.path.join(self.spool, "pid", "master.pid")
        pid = None
        try:
            with open(pidfile) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            pass
        try:
            self._postfix("stop")
        except Exception:
            pass
        deadline = time.time() + 20
        while pid and time.time() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.1)
        if not os.environ.get("SLUICE_KEEP_TEST_DIRS"):
            shutil.rmtree(self.base, ignore_errors=True)
