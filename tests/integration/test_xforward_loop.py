"""XFORWARD end to end: the content filter loop of a Postfix site, sluice on
both sides.  A message from 127.0.0.9 goes to content_filter
smtp:[127.0.0.1]:BACK, where a second smtpd service (`-o content_filter=`,
XFORWARD allowed from 127.0.0.0/8) takes it back; the smtp client sends
XFORWARD (smtp_send_xforward_command = yes), so the second smtpd's log names
the first client and the first queue ID, and the message reaches its sink.
"""
import smtplib

from conftest import free_port
from smtpd_client import OUTSIDE


def test_content_filter_loop_names_the_first_client(instance, sink):
    peer = sink()
    back = free_port()
    instance.set_master_cf(instance.master_cf + (
        "127.0.0.1:%d inet n - n - - smtpd -o content_filter= "
        "-o smtpd_authorized_xforward_hosts=127.0.0.0/8\n" % back))
    instance.write_config(mynetworks="127.0.0.0/8",
                          content_filter="smtp:[127.0.0.1]:%d" % back,
                          smtp_send_xforward_command="yes",
                          transport_maps="inline:{ remote.test=smtp:[127.0.0.1]:%d }" % peer.port)
    instance.start()

    c = smtplib.SMTP("127.0.0.1", instance.smtpd_port, local_hostname="origin.example",
                     timeout=30, source_address=(OUTSIDE, 0))
    c.ehlo()
    c.sendmail("a@origin.example", ["bob@remote.test"], b"Subject: loop\r\n\r\nhello\r\n")
    c.quit()

    first = instance.wait_log(r"(?m)(\w+): client=\S+\[127\.0\.0\.9\]$")[0]
    second = instance.wait_log(r"(?m)(\w+): client=localhost\[127\.0\.0\.1\], "
                               r"orig_queue_id=%s, orig_client=\S+\[127\.0\.0\.9\]$" % first)[0]
    instance.wait_log(r"%s: to=<bob@remote\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, .*"
                      r"status=sent \(250 2\.0\.0 Ok: queued as %s\)" % (first, back, second))
    instance.wait_log(r"%s: to=<bob@remote\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:%d, .*"
                      r"status=sent" % (second, peer.port))
    instance.wait_for(lambda: peer.rcpts() == ["bob@remote.test"], 30, "the sink")
