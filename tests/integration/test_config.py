"""sluice config: the postconf of sluice, run as a user would run it.

Covers what docs/CONTRACT.md and the configuration task promise: -d lists every
oqmgr(8) parameter with its documented default, -n shows only what main.cf
sets, bad values and malformed lines exit non-zero with FILE:LINE: PARAMETER:
text, unknown parameters warn, NAME=VALUE rewrites main.cf keeping comments,
-M prints the built-in master.cf when there is none, and docs/PARAMETERS.md
is what "config -d --doc" generates.
"""
import os
import stat
import subprocess

import pytest

BUILD = os.environ.get("SLUICE_BUILD_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build")
SLUICE = os.path.abspath(os.path.join(BUILD, "sluice"))
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# Every parameter of oqmgr(8) with its documented default; None where the
# manual says "see 'postconf -d' output" or "read-only" (present, any value).
MANUAL = {
    "allow_min_user": "no",
    "default_filter_nexthop": "",
    "qmgr_clog_warn_time": "300s",
    "qmgr_message_active_limit": "20000",
    "qmgr_message_recipient_limit": "20000",
    "qmgr_fudge_factor": "100",
    "initial_destination_concurrency": "5",
    "default_destination_concurrency_limit": "20",
    "default_destination_concurrency_failed_cohort_limit": "1",
    "default_destination_concurrency_negative_feedback": "1",
    "default_destination_concurrency_positive_feedback": "1",
    "destination_concurrency_feedback_debug": "no",
    "default_destination_recipient_limit": "50",
    "minimal_backoff_time": "300s",
    "maximal_backoff_time": "4000s",
    "maximal_queue_lifetime": "5d",
    "queue_run_delay": "300s",
    "transport_retry_time": "60s",
    "bounce_queue_lifetime": "5d",
    "default_destination_rate_delay": "0s",
    "default_transport_rate_delay": "0s",
    "qmgr_daemon_timeout": "1000s",
    "qmgr_ipc_timeout": "60s",
    "address_verify_pending_request_limit": None,
    "config_directory": None,
    "defer_transports": "",
    "delay_logging_resolution_limit": "2",
    "helpful_warnings": "yes",
    "process_id": None,
    "process_name": None,
    "queue_directory": None,
    "syslog_facility": "mail",
    "syslog_name": None,
    "confirm_delay_cleared": "no",
    "service_name": None,
    "info_log_address_format": "external",
}

# The transport_... overrides of the manual, for the smtp service.
PER_TRANSPORT = {
    "smtp_destination_concurrency_limit": "$default_destination_concurrency_limit",
    "smtp_initial_destination_concurrency": "$initial_destination_concurrency",
    "smtp_destination_concurrency_failed_cohort_limit":
        "$default_destination_concurrency_failed_cohort_limit",
    "smtp_destination_concurrency_negative_feedback":
        "$default_destination_concurrency_negative_feedback",
    "smtp_destination_concurrency_positive_feedback":
        "$default_destination_concurrency_positive_feedback",
    "smtp_destination_recipient_limit": "$default_destination_recipient_limit",
    "smtp_destination_rate_delay": "$default_destination_rate_delay",
    "smtp_transport_rate_delay": "$default_transport_rate_delay",
}

BUILTIN_MASTER_CF = """\
pickup    fifo  n       -       n       60      1       pickup
qmgr      fifo  n       -       n       300     1       qmgr
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
lmtp      unix  -       -       n       -       -       lmtp
local     unix  -       n       n       -       -       local
discard   unix  -       -       n       -       -       discard
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
showq     unix  n       -       n       -       -       showq
anvil     unix  -       -       n       -       1       anvil
127.0.0.1:2525 inet n   -       n       -       -       smtpd
# Prometheus metrics over HTTP (docs/OBSERVABILITY.md):
#127.0.0.1:9732 inet n   -       n       -       1       metrics
"""


def config(confdir, *args, env_dir=None):
    """Run sluice [-c confdir] config ARGS; returns the CompletedProcess."""
    env = dict(os.environ)
    env.pop("SLUICE_CONFIG_DIR", None)
    if env_dir is not None:
        env["SLUICE_CONFIG_DIR"] = str(env_dir)
    cmd = [SLUICE] + (["-c", str(confdir)] if confdir is not None else []) + ["config"]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, env=env,
                          timeout=60)


def pairs(output):
    """ "name = value" lines as a dict (the value may be empty)."""
    result = {}
    for line in output.splitlines():
        name, sep, value = line.partition(" =")
        assert sep, line
        result[name] = value[1:] if value.startswith(" ") else value
    return result


def write(path, text):
    path.write_text(text)
    return path


def test_defaults_list_the_manual(tmp_path):
    r = config(tmp_path, "-d")
    assert r.returncode == 0, r.stderr
    got = pairs(r.stdout)
    for name, default in MANUAL.items():
        assert name in got, name
        if default is not None:
            assert got[name] == default, name
    for name, default in PER_TRANSPORT.items():
        assert got[name] == default, name
    # the task's examples, literally
    for line in ("qmgr_message_active_limit = 20000", "minimal_backoff_time = 300s",
                 "maximal_queue_lifetime = 5d", "queue_directory = ./var/spool",
                 "default_transport = smtp", "local_transport = local:$myhostname"):
        assert line + "\n" in r.stdout
    assert list(got) == sorted(got)
    # a default does not depend on main.cf
    write(tmp_path / "main.cf", "qmgr_message_active_limit = 7\n")
    assert pairs(config(tmp_path, "-d").stdout)["qmgr_message_active_limit"] == "20000"


def test_n_shows_only_main_cf(tmp_path):
    assert config(tmp_path, "-n").stdout == ""
    write(tmp_path / "main.cf", "# comment\nrelayhost = [relay.test]:2525\n"
          "mydestination = $myhostname,\n   localhost\n"
          "qmgr_message_active_limit = 100\nrelayhost = [later.test]\n")
    r = config(tmp_path, "-n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("mydestination = $myhostname, localhost\n"
                        "qmgr_message_active_limit = 100\n"
                        "relayhost = [later.test]\n")


def test_named_values_are_expanded(tmp_path):
    write(tmp_path / "main.cf", "myhostname = mail.example.test\nmyorigin = $mydomain\n"
          "smtp_destination_concurrency_limit = 4\n")
    r = config(tmp_path, "myorigin", "mydestination", "smtp_destination_concurrency_limit",
               "relay_destination_concurrency_limit", "minimal_backoff_time")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ("myorigin = example.test\n"
                        "mydestination = mail.example.test, localhost.example.test, localhost\n"
                        "smtp_destination_concurrency_limit = 4\n"
                        "relay_destination_concurrency_limit = 20\n"
                        "minimal_backoff_time = 300s\n")
    r = config(tmp_path, "-h", "myorigin")
    assert r.stdout == "example.test\n"
    # the listing without names shows values as written, like postconf
    assert "myorigin = $mydomain\n" in config(tmp_path).stdout
    assert "myorigin = example.test\n" in config(tmp_path, "-x").stdout


@pytest.mark.parametrize("main_cf,error", [
    ("a = 1\n\nqmgr_message_active_limit = -3\n",
     'main.cf:3: qmgr_message_active_limit: bad numerical value "-3" (must be >= 1)'),
    ("# comment\nminimal_backoff_time = soon\n",
     'main.cf:2: minimal_backoff_time: bad time value "soon"'),
    ("a = 1\n\n\n\n\n\nfoo\n", "main.cf:7: missing '=' after parameter name"),
    ("# mydomain is $myhostname minus its first label\n\n\nmyhostname = $mydomain\n",
     "main.cf:4: myhostname: recursive expansion of $myhostname"),
    ("x = abc\nsmtp_destination_concurrency_limit = $x\n",
     'main.cf:2: smtp_destination_concurrency_limit: bad numerical value "abc"'),
])
def test_errors_name_file_line_parameter(tmp_path, main_cf, error):
    write(tmp_path / "main.cf", main_cf)
    for args in ((), ("-n",), ("myhostname",)):
        r = config(tmp_path, *args)
        assert r.returncode != 0
        assert f"{tmp_path}/{error}" in r.stderr, r.stderr
        assert r.stdout == ""


def test_bad_value_is_not_replaced_by_default(tmp_path):
    write(tmp_path / "main.cf", "hash_queue_depth = 9\n")
    r = config(tmp_path, "hash_queue_depth")
    assert r.returncode != 0
    assert 'hash_queue_depth: bad numerical value "9" (must be <= 4)' in r.stderr
    assert "hash_queue_depth = 1" not in r.stdout


def test_obsolete_parameter_warns(tmp_path):
    write(tmp_path / "main.cf", "# 1\nqmgr_fudge_factor = 50\nrelayhost = x\n")
    r = config(tmp_path, "-n")
    assert r.returncode == 0, r.stderr
    assert 'main.cf:2: warning: obsolete parameter "qmgr_fudge_factor" is ignored' in r.stderr
    assert "relayhost" not in r.stderr


def test_unknown_parameter_warns(tmp_path):
    write(tmp_path / "main.cf", "# 1\n# 2\n# 3\n# 4\n# 5\n# 6\n# 7\nrelayhost = x\n"
          "foo_bar = 1\nsmtp_destination_rate_delay = 1s\nmine = 2\nmyorigin = $mine\n")
    r = config(tmp_path, "-n")
    assert r.returncode == 0, r.stderr
    assert 'main.cf:9: warning: unknown parameter "foo_bar"' in r.stderr
    # per-transport names of master.cf services and $-referenced names are known
    assert "smtp_destination_rate_delay" not in r.stderr
    assert '"mine"' not in r.stderr
    r = config(tmp_path, "nosuch_parameter", "relayhost")
    assert r.returncode == 1
    assert "sluice: config: warning: nosuch_parameter: unknown parameter" in r.stderr
    assert r.stdout == "relayhost = x\n"


def test_set_keeps_comments_and_order(tmp_path):
    main_cf = write(tmp_path / "main.cf", "# Global settings\n"
                    "relayhost = [old.test]\n"
                    "\n"
                    "# The domains we deliver locally\n"
                    "mydestination = $myhostname,\n"
                    "    localhost\n"
                    "myorigin = example.test   # not a comment to Postfix either\n")
    os.chmod(main_cf, 0o640)
    r = config(tmp_path, "relayhost=[new.test]:2525", "mydestination = localhost",
               "qmgr_message_active_limit=500")
    assert r.returncode == 0, r.stderr
    assert main_cf.read_text() == ("# Global settings\n"
                                   "relayhost = [new.test]:2525\n"
                                   "\n"
                                   "# The domains we deliver locally\n"
                                   "mydestination = localhost\n"
                                   "myorigin = example.test   # not a comment to Postfix either\n"
                                   "qmgr_message_active_limit = 500\n")
    assert stat.S_IMODE(os.stat(main_cf).st_mode) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["main.cf"]
    assert config(tmp_path, "qmgr_message_active_limit").stdout == \
        "qmgr_message_active_limit = 500\n"

    # a bad value is refused and the file is left alone
    before = main_cf.read_text()
    r = config(tmp_path, "qmgr_message_active_limit=-3")
    assert r.returncode != 0
    assert 'qmgr_message_active_limit: bad numerical value "-3" (must be >= 1)' in r.stderr
    assert main_cf.read_text() == before


def test_set_creates_main_cf(tmp_path):
    r = config(tmp_path, "maximal_queue_lifetime=2d")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "main.cf").read_text() == "maximal_queue_lifetime = 2d\n"


def test_master_cf_builtin_and_file(tmp_path):
    r = config(tmp_path, "-M")
    assert r.returncode == 0, r.stderr
    assert r.stdout == BUILTIN_MASTER_CF
    write(tmp_path / "master.cf", "# mine\nsmtp unix - - n - 10 smtp\n"
          "  -o smtp_helo_timeout=5\nrelay unix - - n - - smtp -o { smtp_helo_name = x }\n")
    r = config(tmp_path, "-M")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        "smtp      unix  -       -       n       -       10      smtp -o smtp_helo_timeout=5\n"
        "relay     unix  -       -       n       -       -       smtp -o smtp_helo_name=x\n")
    write(tmp_path / "master.cf", "smtp unix - - n - - smtp\nsmtp tcp - - n - - smtp\n")
    r = config(tmp_path, "-M")
    assert r.returncode != 0
    assert f"{tmp_path}/master.cf:2: bad service type \"tcp\"" in r.stderr


def test_config_dir_from_environment(tmp_path):
    write(tmp_path / "main.cf", "relayhost = [env.test]\n")
    r = config(None, "-h", "relayhost", "config_directory", env_dir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"[env.test]\n{tmp_path}\n"


def test_usage_errors(tmp_path):
    for args in (("-q",), ("-n", "-d"), ("a=b", "c"), ("-M", "x"), ("--doc",)):
        assert config(tmp_path, *args).returncode == 64, args


def test_parameters_md_is_current():
    r = config(None, "-d", "--doc")
    assert r.returncode == 0, r.stderr
    with open(os.path.join(ROOT, "docs", "PARAMETERS.md")) as f:
        assert f.read() == r.stdout, \
            "docs/PARAMETERS.md is stale: build/sluice config -d --doc > docs/PARAMETERS.md"
