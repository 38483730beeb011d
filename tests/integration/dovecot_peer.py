"""Dovecot's LMTP server (Debian's dovecot-lmtpd) as a test peer.

Dovecot runs in the foreground with a private configuration in a test
folder (dovecot -F -c FILE, base_dir and state_dir inside it): protocols =
lmtp only, ssl = no, a passwd-file user database, Maildirs under the test
folder, one LMTP listener on a UNIX socket and one on 127.0.0.1:port.  As
root, mail is stored as "nobody" (Dovecot refuses root as a mail user);
otherwise as the test user.  Users may carry a quota (the quota plugin),
so that a recipient can be refused after DATA while another is taken.
"""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

DOVECOT = "/usr/sbin/dovecot"
LMTP = "/usr/lib/dovecot/lmtp"


def can_run_dovecot():
    """Why Dovecot's LMTP server cannot run here, or None."""
    if not os.path.exists(DOVECOT):
        return "dovecot-core is not installed"
    if not os.path.exists(LMTP):
        return "dovecot-lmtpd is not installed"
    return None


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Dovecot:
    """users: {name: quota_bytes or None}."""

    def __init__(self, users):
        self.base = tempfile.mkdtemp(prefix="sluice-dovecot-")
        os.chmod(self.base, 0o755)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("nobody")
            internal, login = "dovecot", "dovenull"
        else:
            pw = pwd.getpwuid(os.geteuid())
            internal = login = pw.pw_name
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.mail = os.path.join(self.base, "mail")
        os.makedirs(self.mail)
        os.chown(self.mail, self.uid, self.gid)
        self.run = os.path.join(self.base, "run")
        self.socket = os.path.join(self.base, "run", "lmtp")
        self.port = _free_port()
        self.log_path = os.path.join(self.base, "dovecot.log")
        users_file = os.path.join(self.base, "users")
        with open(users_file, "w") as f:
            for name, quota in users.items():
                extra = "userdb_quota_rule=*:storage=%dB" % quota if quota else ""
                f.write("%s:{PLAIN}unused:%d:%d::%s::%s\n"
                        % (name, self.uid, self.gid, os.path.join(self.mail, name), extra))
        self.conf = os.path.join(self.base, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(CONF.format(base=self.base, run=self.run, log=self.log_path,
                                mail=self.mail, users=users_file, port=self.port,
                                internal=internal, login=login,
                                first_uid=min(self.uid, 500)))
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace")
                raise RuntimeError("dovecot exited: %s\n%s" % (err, self.log()))
            if os.path.exists(self.socket) and self._port_open():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("dovecot did not start:\n" + self.log())

    def _port_open(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def maildir_messages(self, user):
        """Contents of the messages in user's Maildir (new/ and cur/)."""
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.mail, user, "Maildir", sub)
            if os.path.isdir(d):
                for n in sorted(os.listdir(d)):
                    with open(os.path.join(d, n), "rb") as f:
                        out.append(f.read())
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()
        if not os.environ.get("SLUICE_KEEP_TEST_DIRS"):
            shutil.rmtree(self.base, ignore_errors=True)


CONF = """\
base_dir = {run}
state_dir = {base}/state
log_path = {log}
info_log_path = {log}
protocols = lmtp
ssl = no
listen = 127.0.0.1
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {first_uid}
mail_location = maildir:~/Maildir
mail_plugins = quota
lmtp_rcpt_check_quota = no
disable_plaintext_auth = no
# "alice@mbox.test" and "alice" are the same user.
auth_username_format = %Ln
passdb {{
  driver = passwd-file
  args = {users}
}}
userdb {{
  driver = passwd-file
  args = {users}
}}
plugin {{
  quota = maildir:User quota
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {port}
  }}
}}
service anvil {{
  chroot =
}}
"""
