"""A validating resolver on loopback for the DANE tests: Debian's unbound
serving DNSSEC-signed zones from its own auth-zone (for-upstream: the
answers go through its validator) with a trust anchor for them, so that
it sets the AD bit on what validates, answers SERVFAIL for what does not,
and leaves the AD bit off for zones without an anchor.

Zones are signed in the test with ldns-keygen / ldns-signzone (Debian's
ldnsutils).  The agent reads a resolv.conf naming this server inside its
private mount namespace (smtp_peers.AgentHarness), with "options trust-ad"
(glibc passes the AD bit on only then)."""
import glob
import os
import shutil
import subprocess

from smtp_peers import LoopbackDns

UNBOUND = "/usr/sbin/unbound"


def can_run_unbound():
    """Why the DANE tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (port 53, mount namespace)"
    for prog in (UNBOUND, "ldns-keygen", "ldns-signzone"):
        if shutil.which(prog) is None:
            return "%s is not installed (packages unbound, ldnsutils)" % prog
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        return "cannot make a mount namespace"
    return None


def spki_sha256(certfile):
    """The TLSA 3 1 1 data of a certificate: SHA-256 of its public key (DER)."""
    pub = subprocess.run(["openssl", "x509", "-in", certfile, "-noout", "-pubkey"],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         capture_output=True, check=True).stdout
    import hashlib
    return hashlib.sha256(der).hexdigest()


class SignedZone:
    """A zone file signed with a fresh key (one KSK signs everything)."""

    def __init__(self, base, name, records, tamper=()):
        """records: zone lines relative to the origin; tamper: (old, new)
        text replacements made in the signed file (to make RRsets bogus)."""
        self.name = name
        d = os.path.join(base, name)
        os.makedirs(d)
        key = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", name], cwd=d,
                             capture_output=True, check=True, text=True).stdout.strip()
        self.keyfile = os.path.join(d, key + ".key")
        zone = os.path.join(d, "zone")
        with open(zone, "w") as f:
            f.write("$ORIGIN %s.\n$TTL 300\n" % name)
            f.write("@ IN SOA ns.%s. hostmaster.%s. 1 3600 600 86400 300\n" % (name, name))
            f.write("@ IN NS ns.%s.\n" % name)
            for r in records:
                f.write(r + "\n")
        subprocess.run(["ldns-signzone", zone, os.path.join(d, key)], cwd=d,
                       capture_output=True, check=True)
        self.signed = zone + ".signed"
        if tamper:
            with open(self.signed) as f:
                text = f.read()
            for old, new in tamper:
                assert old in text, (old, text)
                text = text.replace(old, new)
            with open(self.signed, "w") as f:
                f.write(text)
        for f in glob.glob(os.path.join(d, "*")):
            os.chmod(f, 0o644)


class Unbound(LoopbackDns):
    """unbound on 127.x.y.53:53 (LoopbackDns) with zones: (SignedZone,
    anchored) or (name, zonefile) for unsigned ones."""

    NAME = "unbound"
    RESOLV_OPTIONS = "attempts:2 timeout:2 trust-ad"
    READY_TIMEOUT = 15
    PROBE_TIMEOUT = 0.3

    def __init__(self, base, signed=(), unsigned=()):
        os.chmod(base, 0o755)
        super().__init__(base, signed, unsigned)

    def _start(self, base, signed, unsigned):
        self.base = base
        self.write_resolv(base)
        self.log = os.path.join(base, "unbound.log")
        conf = os.path.join(base, "unbound.conf")
        lines = ["server:",
                 "  interface: %s" % self.address, "  port: 53",
                 "  username: \"\"", "  chroot: \"\"", "  directory: \"%s\"" % base,
                 "  pidfile: \"%s\"" % os.path.join(base, "unbound.pid"),
                 "  use-syslog: no", "  logfile: \"%s\"" % self.log, "  verbosity: 1",
                 "  val-log-level: 2", "  access-control: 127.0.0.0/8 allow",
                 "  module-config: \"validator iterator\"", "  do-ip6: no",
                 "  num-threads: 1", "  so-reuseport: no",
                 # No root anchor: names outside the test zones are insecure.
                 "  harden-dnssec-stripped: yes",
                 # "test." is an RFC 6761 name unbound answers NXDOMAIN for itself.
                 "  local-zone: \"test.\" nodefault"]
        for z in signed:
            lines.append("  trust-anchor-file: \"%s\"" % z.keyfile)
        for z in signed:
            lines += ["auth-zone:", "  name: \"%s\"" % z.name,
                      "  zonefile: \"%s\"" % z.signed,
                      "  for-downstream: no", "  for-upstream: yes", "  fallback-enabled: no"]
        for name, zonefile in unsigned:
            lines += ["auth-zone:", "  name: \"%s\"" % name, "  zonefile: \"%s\"" % zonefile,
                      "  for-downstream: no", "  for-upstream: yes", "  fallback-enabled: no"]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        chk = subprocess.run(["unbound-checkconf", conf], capture_output=True, text=True)
        if chk.returncode != 0:
            raise AssertionError("unbound-checkconf: " + chk.stdout + chk.stderr)
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.wait_ready()
