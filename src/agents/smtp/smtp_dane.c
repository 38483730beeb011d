/*
 * smtp_dane - TLSA look-ups (see smtp_dane.h).
 *
 * The query goes out with res_mkquery()/res_send() rather than
 * res_query(): a negative answer (NXDOMAIN, NODATA) must be seen whole,
 * header flags included, to know whether it is a secure denial.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>

#include "agents/smtp/smtp_dane.h"
#include "util/mem.h"

#define TYPE_TLSA	52

/* smtp_dane_qname - the TLSA owner name */
void smtp_dane_qname(const char *host, unsigned port, char *out, size_t outlen)
{
	size_t n = strlen(host);

	/* Absolute: no search list. */
	snprintf(out, outlen, "_%u._tcp.%s%s", port, host, n && host[n - 1] == '.' ? "" : ".");
}

/* smtp_dane_secure_reply - the AD bit */
bool smtp_dane_secure_reply(const unsigned char *msg, size_t len)
{
	return len >= 12 && (msg[3] & 0x20) != 0;
}

/* smtp_tlsa_deinit - free */
void smtp_tlsa_deinit(struct smtp_tlsa *t)
{
	for (size_t i = 0; i < t->count; i++)
		free(t->rr[i].data);
	free(t->rr);
	t->rr = NULL;
	t->count = 0;
}

/* smtp_dane_parse - outcome and records of a TLSA reply */
int smtp_dane_parse(const unsigned char *msg, size_t len, struct smtp_tlsa *out, char *why,
		    size_t whylen)
{
	bool ad = smtp_dane_secure_reply(msg, len);
	ns_msg m;
	ns_rr rr;
	int rcode, n;

	memset(out, 0, sizeof(*out));
	if (len < 12 || ns_initparse(msg, (int)len, &m) < 0) {
		snprintf(why, whylen, "malformed reply");
		return SMTP_DANE_ERROR;
	}
	rcode = ns_msg_getflag(m, ns_f_rcode);
	if (rcode == ns_r_nxdomain)
		return ad ? SMTP_DANE_NONE : SMTP_DANE_INSECURE;
	if (rcode != ns_r_noerror) {
		snprintf(why, whylen, "%s", rcode == ns_r_servfail
			 ? "server failure (a DNSSEC validation failure is one)"
			 : "the resolver refused the query");
		return SMTP_DANE_ERROR;
	}
	n = ns_msg_count(m, ns_s_an);
	for (int i = 0; i < n; i++) {
		struct smtp_tlsa_rr *t;

		if (ns_parserr(&m, ns_s_an, i, &rr) < 0) {
			smtp_tlsa_deinit(out);
			snprintf(why, whylen, "malformed reply");
			return SMTP_DANE_ERROR;
		}
		if (ns_rr_class(rr) != ns_c_in || ns_rr_type(rr) != TYPE_TLSA)
			continue;
		/* usage, selector, matching type, then at least one byte of data. */
		if (ns_rr_rdlen(rr) < 4)
			continue;
		out->rr = xrealloc(out->rr, (out->count + 1) * sizeof(*out->rr));
		t = &out->rr[out->count++];
		t->usage = ns_rr_rdata(rr)[0];
		t->selector = ns_rr_rdata(rr)[1];
		t->mtype = ns_rr_rdata(rr)[2];
		t->len = ns_rr_rdlen(rr) - 3u;
		t->data = xmalloc(t->len);
		memcpy(t->data, ns_rr_rdata(rr) + 3, t->len);
	}
	if (!ad) {
		smtp_tlsa_deinit(out);
		return SMTP_DANE_INSECURE;
	}
	return out->count ? SMTP_DANE_FOUND : SMTP_DANE_NONE;
}

/* smtp_dane_lookup - ask the resolver */
int smtp_dane_lookup(const char *host, unsigned port, struct smtp_tlsa *out, char *why,
		     size_t whylen)
{
	unsigned char query[NS_PACKETSZ], *ans;
	char qname[NS_MAXDNAME + 16];
	int qlen, len, rc;

	memset(out, 0, sizeof(*out));
	smtp_dane_qname(host, port, qname, sizeof(qname));
	if ((qlen = res_mkquery(ns_o_query, qname, ns_c_in, TYPE_TLSA, NULL, 0, NULL, query,
				sizeof(query))) < 0) {
		snprintf(why, whylen, "cannot make a query for %s", qname);
		return SMTP_DANE_ERROR;
	}
	/* Ask the resolver to say whether it validated (AD), as trust-ad does. */
	query[3] |= 0x20;
	ans = xmalloc(NS_MAXMSG);
	if ((len = res_send(query, qlen, ans, NS_MAXMSG)) < 0) {
		/* glibc gives up on SERVFAIL (a bogus answer is one) as on silence. */
		snprintf(why, whylen, "no answer (server failure or time-out)");
		free(ans);
		return SMTP_DANE_ERROR;
	}
	if (len > NS_MAXMSG)
		len = NS_MAXMSG;
	rc = smtp_dane_parse(ans, (size_t)len, out, why, whylen);
	free(ans);
	return rc;
}
