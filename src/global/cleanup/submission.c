/*
 * submission - local submission rules and the sendmail->postdrop stream
 * (see submission.h for the format).
 *
 * This module is for the trust boundary of local mail: everything a user
 * can put into maildrop/ passes these checks, once in postdrop (which runs
 * set-gid and must not be steered into writing anything but a well-formed
 * maildrop file) and once more in pickup (which must not trust even that).
 * The reader is strict in the OpenSMTPD m_end() sense: a record out of
 * place, a length over its type's limit, a NUL in a string, bytes after
 * the end record: the whole submission is refused.
 *
 * It does not parse the message text (cleanup does, in pickup), talk to
 * the user (postdrop prints the reason it gets back), or trigger pickup.
 *
 * DIAGNOSTICS: -1 with a static reason and a sysexits status; nothing is
 * logged here.  A partial maildrop file is removed before returning.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "global/addr.h"
#include "global/cleanup/cleanup.h"
#include "global/cleanup/submission.h"
#include "global/dsn.h"
#include "util/buf.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

/* submission_check_text - bounded, no control characters */
int submission_check_text(const char *text, size_t max, const char **why_r)
{
	if (strlen(text) > max) {
		*why_r = "text too long";
		return -1;
	}
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (*p < 32 || *p == 127) {
			*why_r = "control character in text";
			return -1;
		}
	}
	return 0;
}

/* submission_check_address - an address in internal form */
int submission_check_address(const char *addr, bool null_ok, const char **why_r)
{
	const char *domain;

	if (*addr == 0) {
		if (null_ok)
			return 0;
		*why_r = "empty address";
		return -1;
	}
	if (strlen(addr) > ADDR_MAX) {
		*why_r = "address too long";
		return -1;
	}
	if (submission_check_text(addr, ADDR_MAX, why_r) < 0) {
		*why_r = "control character in address";
		return -1;
	}
	if ((domain = addr_domain(addr)) != NULL && !addr_valid_domain(domain)) {
		*why_r = "malformed domain in address";
		return -1;
	}
	return 0;
}

/* submission_check_envid - RFC 3461 ENVID, decoded */
int submission_check_envid(const char *envid, const char **why_r)
{
	if (strlen(envid) > SUBMISSION_ENVID_MAX) {
		*why_r = "envelope ID too long";
		return -1;
	}
	for (const unsigned char *p = (const unsigned char *)envid; *p; p++) {
		if (*p < 33 || *p > 126) {
			*why_r = "envelope ID must be printable ASCII";
			return -1;
		}
	}
	return 0;
}

/* submission_put - one record */
void submission_put(struct buf *out, int type, const void *data, size_t len)
{
	uint32_t n = htonl((uint32_t)len);

	if (len > SUBMISSION_CHUNK)
		msg_panic("submission_put: record of %zu bytes", len);
	buf_putc(out, type);
	buf_append(out, &n, 4);
	buf_append(out, data, len);
}

/* submission_put_str - one string record */
void submission_put_str(struct buf *out, int type, const char *s)
{
	submission_put(out, type, s, strlen(s));
}

/* ---- reading ---- */

struct reader {
	submission_read_fn *fn;
	void *ctx;
	char buf[8192];
	size_t pos, len;
	bool failed;		/* the read function said -1 */
};

/* rd_bytes - exactly n bytes; -1 at EOF or error */
static int rd_bytes(struct reader *r, void *out, size_t n)
{
	char *o = out;
	ssize_t got;
	size_t take;

	while (n > 0) {
		if (r->pos == r->len) {
			got = r->fn(r->ctx, r->buf, sizeof(r->buf));
			if (got <= 0) {
				r->failed = got < 0;
				return -1;
			}
			r->pos = 0;
			r->len = (size_t)got;
		}
		take = r->len - r->pos < n ? r->len - r->pos : n;
		memcpy(o, r->buf + r->pos, take);
		r->pos += take;
		o += take;
		n -= take;
	}
	return 0;
}

/* get_record - the next record into data (NUL-terminated); 0 or -1 */
static int get_record(struct reader *r, int *type_r, struct buf *data, const char **why_r)
{
	unsigned char hdr[5];
	uint32_t n;

	if (rd_bytes(r, hdr, 5) < 0) {
		*why_r = r->failed ? "submission interrupted" : "premature end of submission";
		return -1;
	}
	memcpy(&n, hdr + 1, 4);
	n = ntohl(n);
	*type_r = hdr[0];
	if (n > (hdr[0] == 'B' ? SUBMISSION_CHUNK : SUBMISSION_STR_MAX)) {
		*why_r = "oversized record in submission";
		return -1;
	}
	buf_reset(data);
	buf_reserve(data, n);
	if (rd_bytes(r, data->data, n) < 0) {
		*why_r = r->failed ? "submission interrupted" : "premature end of submission";
		return -1;
	}
	data->len = n;
	data->data[n] = 0;
	if (hdr[0] != 'B' && memchr(data->data, 0, n) != NULL) {
		*why_r = "NUL byte in submission record";
		return -1;
	}
	return 0;
}

/* parse_small - a decimal in [0, max] */
static int parse_small(const char *text, long max, long *v_r)
{
	return str_to_long(text, 0, max, v_r);
}

struct envelope_in {
	char *sender, *full_name, *envid;
	long ret, flags;
};

/* read_envelope - V S [F] [I] [r] [f] M */
static int read_envelope(struct reader *r, struct buf *data, struct envelope_in *e,
			 const char **why_r)
{
	static const char order[] = "FIrfM";
	const char *pos = order, *at;
	int type;

	if (get_record(r, &type, data, why_r) < 0)
		return -1;
	if (type != 'V' || strcmp(data->data, SUBMISSION_VERSION) != 0) {
		*why_r = "unsupported submission version";
		return -1;
	}
	if (get_record(r, &type, data, why_r) < 0)
		return -1;
	if (type != 'S') {
		*why_r = "submission without sender";
		return -1;
	}
	if (submission_check_address(data->data, true, why_r) < 0)
		return -1;
	e->sender = xstrdup(data->data);
	for (;;) {
		if (get_record(r, &type, data, why_r) < 0)
			return -1;
		if (type == 0 || (at = strchr(pos, type)) == NULL) {
			*why_r = "unexpected record in submission envelope";
			return -1;
		}
		pos = at + 1;
		switch (type) {
		case 'F':
			if (submission_check_text(data->data, SUBMISSION_NAME_MAX, why_r) < 0)
				return -1;
			e->full_name = xstrdup(data->data);
			break;
		case 'I':
			if (submission_check_envid(data->data, why_r) < 0)
				return -1;
			e->envid = xstrdup(data->data);
			break;
		case 'r':
			if (parse_small(data->data, DSN_RET_HDRS, &e->ret) < 0) {
				*why_r = "bad DSN RET in submission";
				return -1;
			}
			break;
		case 'f':
			if (parse_small(data->data, SUBMISSION_QFLAGS, &e->flags) < 0
			    || (e->flags & ~SUBMISSION_QFLAGS)) {
				*why_r = "bad flags in submission";
				return -1;
			}
			break;
		case 'M':
			return 0;
		}
	}
}

/* notify_ok - valid DSN NOTIFY bits */
static bool notify_ok(long v)
{
	if (v & ~(long)(DSN_NOTIFY_NEVER | DSN_NOTIFY_ANY))
		return false;
	return !((v & DSN_NOTIFY_NEVER) && (v & DSN_NOTIFY_ANY));
}

/* fail - abort the writer and report */
static int fail(struct qf_writer **w, int status, const char *why, int *status_r,
		const char **why_r)
{
	if (*w)
		qf_abort(w);
	*status_r = status;
	*why_r = why;
	return -1;
}

/* submission_receive - stream to maildrop file */
int submission_receive(submission_read_fn *read_fn, void *ctx, const char *queue_dir,
		       long size_limit, char id_r[QUEUE_ID_SIZE], int *status_r,
		       const char **why_r)
{
	struct reader *r = xcalloc(1, sizeof(*r));
	struct envelope_in e = {0};
	struct qf_envelope env;
	struct qf_writer *w = NULL;
	struct buf data, orig, orcpt;
	char *attrs[2] = {NULL, NULL};
	const char *why = NULL;
	long size = 0, notify = 0, count = 0, env_bytes = 0;
	int type, stage = 0, rc = -1;
	char extra;

	r->fn = read_fn;
	r->ctx = ctx;
	buf_init(&data, 1024);
	buf_init(&orig, 64);
	buf_init(&orcpt, 64);

	if (read_envelope(r, &data, &e, &why) < 0) {
		rc = fail(&w, r->failed ? EX_TEMPFAIL : EX_DATAERR, why, status_r, why_r);
		goto out;
	}
	if ((w = qf_create(queue_dir, "maildrop", &why)) == NULL) {
		rc = fail(&w, EX_TEMPFAIL, why, status_r, why_r);
		goto out;
	}
	memset(&env, 0, sizeof(env));
	env.arrival_time = wall_time();
	env.sender = e.sender;
	env.envid = e.envid ? e.envid : "";
	env.ret = (int)e.ret;
	env.flags = (int)e.flags;
	if (e.full_name) {
		attrs[0] = xasprintf("%s=%s", SUBMISSION_ATTR_FULL_NAME, e.full_name);
		env.attrs = attrs;
	}
	qf_put_envelope(w, &env);

	/* Content, then recipient groups, then the end. */
	for (;;) {
		if (get_record(r, &type, &data, &why) < 0) {
			rc = fail(&w, r->failed ? EX_TEMPFAIL : EX_DATAERR, why, status_r, why_r);
			goto out;
		}
		if (type == 'B' && stage == 0) {
			size += (long)data.len;
			if (size_limit > 0 && size > size_limit) {
				rc = fail(&w, EX_DATAERR, "message size exceeds message_size_limit",
					  status_r, why_r);
				goto out;
			}
			qf_put_content(w, data.data, data.len);
		} else if (type == 'X' && stage == 0) {
			stage = 1;
		} else if (type == 'O' && stage == 1) {
			if (submission_check_text(data.data, ADDR_MAX, &why) < 0)
				goto bad;
			buf_set(&orig, data.data);
			stage = 2;
		} else if (type == 'o' && (stage == 1 || stage == 2)) {
			if (submission_check_text(data.data, ADDR_MAX + 16, &why) < 0)
				goto bad;
			buf_set(&orcpt, data.data);
			stage = 3;
		} else if (type == 'n' && stage >= 1 && stage <= 3) {
			if (parse_small(data.data, 15, &notify) < 0 || notify == 0
			    || !notify_ok(notify)) {
				why = "bad DSN NOTIFY in submission";
				goto bad;
			}
			stage = 4;
		} else if (type == 'R' && stage >= 1) {
			if (submission_check_address(data.data, false, &why) < 0)
				goto bad;
			/* The cap cleanup will enforce, refused while the user is here. */
			env_bytes += cleanup_envelope_bytes(data.data, orig.data, orcpt.data);
			if (cleanup_envelope_limit(count + 1, env_bytes, &why) < 0) {
				why += 6;	/* no "5.x.x " for the user */
				goto bad;
			}
			qf_add_rcpt(w, data.data, orig.data, orcpt.data, (int)notify);
			count++;
			buf_reset(&orig);
			buf_reset(&orcpt);
			notify = 0;
			stage = 1;
		} else if (type == 'E' && stage == 1) {
			break;
		} else {
			why = "unexpected record in submission";
			goto bad;
		}
	}
	if (rd_bytes(r, &extra, 1) == 0) {
		why = "data after the end of the submission";
		goto bad;
	}
	if (r->failed) {
		rc = fail(&w, EX_TEMPFAIL, "submission interrupted", status_r, why_r);
		goto out;
	}
	if (count == 0) {
		why = "no recipients";
		goto bad;
	}
	if (qf_commit(&w, id_r, &why) < 0) {
		rc = fail(&w, EX_TEMPFAIL, why, status_r, why_r);
		goto out;
	}
	rc = 0;
	goto out;
bad:
	rc = fail(&w, EX_DATAERR, why, status_r, why_r);
out:
	free(attrs[0]);
	free(e.sender);
	free(e.full_name);
	free(e.envid);
	buf_deinit(&data);
	buf_deinit(&orig);
	buf_deinit(&orcpt);
	free(r);
	return rc;
}
