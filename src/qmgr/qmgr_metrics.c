/*
 * qmgr_metrics - the queue manager's counters since it started, as
 * Prometheus text ("request=metrics" on private/qmgr-control; the metrics
 * service passes the text on, docs/OBSERVABILITY.md lists every series).
 *
 * What is counted is what the queue manager learns anyway: the recipient
 * counts of each agent reply (sent, deferred, bounced: one per log line the
 * agent wrote), the outcomes it logs itself (transport "qmgr"), messages
 * entering the active queue (one per "(queue active)" line, with their
 * recipients and size), removed and expired messages, and the delay from
 * arrival to delivery of every delivered recipient.  Per destination
 * domain (the domain of the entry's first recipient: all recipients of an
 * entry share the next hop) the same outcomes are kept for at most
 * DOMAINS_MAX domains (later ones count as "other"); a scrape shows the
 * DOMAINS_SHOWN busiest.  Queue sizes are the queue manager's own counts:
 * nothing here reads a file.
 *
 * Cost: an outcome is a few additions and one hash look-up; a scrape
 * formats a few kilobytes (work proportional to the transports seen and
 * the remembered domains).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "qmgr.h"
#include "util/buf.h"
#include "util/htable.h"
#include "util/mem.h"

#define DOMAINS_MAX	10000	/* domains remembered */
#define DOMAINS_SHOWN	20	/* busiest domains in a scrape */
#define DOMAIN_LEN_MAX	255	/* longer names are cut */

static const char *const outcome_names[QMGR_OUTCOMES] = {"sent", "deferred", "bounced"};

/* Delivery delay buckets (seconds), and message shape buckets. */
static const double delay_bounds[] = {0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600,
	14400, 86400, 432000};
#define DELAY_BUCKETS	(sizeof(delay_bounds) / sizeof(delay_bounds[0]))
static const double nrcpt_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128};
#define NRCPT_BUCKETS	(sizeof(nrcpt_bounds) / sizeof(nrcpt_bounds[0]))
static const double size_bounds[] = {1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
#define SIZE_BUCKETS	(sizeof(size_bounds) / sizeof(size_bounds[0]))

struct histogram {
	unsigned long long bucket[16];	/* non-cumulative; last = +Inf */
	unsigned long long count;
	double sum;
};

struct transport_counts {
	unsigned long long outcome[QMGR_OUTCOMES];
	struct histogram delay;
};

struct domain_counts {
	char *name;
	unsigned long long outcome[QMGR_OUTCOMES];
};

static struct htable *transports;	/* name -> struct transport_counts */
static struct htable *domains;		/* name -> struct domain_counts */
static struct domain_counts other_domains = {.name = "other"};
static struct histogram inserted_nrcpt, inserted_size;
static unsigned long long removed_count, expired_count;

/* observe - add n observations of v to h */
static void observe(struct histogram *h, const double *bounds, size_t nb, double v, long n)
{
	size_t i;

	for (i = 0; i < nb && v > bounds[i]; i++)
		;
	h->bucket[i] += (unsigned long long)n;
	h->count += (unsigned long long)n;
	h->sum += v * (double)n;
}

/* transport_counts - the counts of one transport, made on first use */
static struct transport_counts *transport_counts(const char *name)
{
	struct transport_counts *t;

	if (transports == NULL)
		transports = htable_create(16);
	if ((t = htable_find(transports, name)) == NULL) {
		t = xcalloc(1, sizeof(*t));
		htable_enter(transports, name, t);
	}
	return t;
}

/* domain_counts - the counts of the recipient's domain */
static struct domain_counts *domain_counts(const char *rcpt)
{
	const char *at = rcpt ? strrchr(rcpt, '@') : NULL;
	char name[DOMAIN_LEN_MAX + 1];
	struct domain_counts *d;
	size_t i;

	/* Lower case: Example.COM and example.com are one destination. */
	for (i = 0, at = at ? at + 1 : ""; at[i] && i < DOMAIN_LEN_MAX; i++)
		name[i] = (char)tolower((unsigned char)at[i]);
	name[i] = 0;
	if (domains == NULL)
		domains = htable_create(64);
	if ((d = htable_find(domains, name)) != NULL)
		return d;
	if (htable_count(domains) >= DOMAINS_MAX)
		return &other_domains;
	d = xcalloc(1, sizeof(*d));
	d->name = xstrdup(name);
	htable_enter(domains, name, d);
	return d;
}

/* qmgr_metrics_outcome - n recipients of one entry had this outcome */
void qmgr_metrics_outcome(const char *transport, const char *rcpt, int outcome, long n)
{
	if (n <= 0 || outcome < 0 || outcome >= QMGR_OUTCOMES)
		return;
	transport_counts(transport)->outcome[outcome] += (unsigned long long)n;
	domain_counts(rcpt)->outcome[outcome] += (unsigned long long)n;
}

/* qmgr_metrics_delivered - n recipients delivered after delay seconds */
void qmgr_metrics_delivered(const char *transport, double delay, long n)
{
	if (n <= 0)
		return;
	if (!(delay > 0))
		delay = 0;
	observe(&transport_counts(transport)->delay, delay_bounds, DELAY_BUCKETS, delay, n);
}

/* qmgr_metrics_inserted - a message entered the active queue */
void qmgr_metrics_inserted(long nrcpt, long size)
{
	observe(&inserted_nrcpt, nrcpt_bounds, NRCPT_BUCKETS, (double)(nrcpt > 0 ? nrcpt : 0), 1);
	observe(&inserted_size, size_bounds, SIZE_BUCKETS, (double)(size > 0 ? size : 0), 1);
}

/* qmgr_metrics_removed - a message left the queue for good */
void qmgr_metrics_removed(void)
{
	removed_count++;
}

/* qmgr_metrics_expired - a message was returned to its sender as expired */
void qmgr_metrics_expired(void)
{
	expired_count++;
}

/* ---- the text ---- */

/* label - append a label value, escaped for the text format */
static void label(struct buf *out, const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '\\' || *p == '"')
			buf_printf(out, "\\%c", *p);
		else if (*p == '\n')
			buf_puts(out, "\\n");
		else if (*p < 0x20 || *p >= 0x7f)
			buf_putc(out, '?');	/* keep the text ASCII */
		else
			buf_putc(out, (char)*p);
	}
}

/* head - the HELP and TYPE lines */
static void head(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* histogram - one histogram's series; labels is "" or `name="value",` */
static void histogram(struct buf *out, const char *name, const char *labels,
		      const struct histogram *h, const double *bounds, size_t nb)
{
	unsigned long long cum = 0;
	size_t i;

	for (i = 0; i < nb; i++) {
		cum += h->bucket[i];
		buf_printf(out, "%s_bucket{%sle=\"%g\"} %llu\n", name, labels, bounds[i], cum);
	}
	cum += h->bucket[nb];
	buf_printf(out, "%s_bucket{%sle=\"+Inf\"} %llu\n", name, labels, cum);
	if (*labels) {
		buf_printf(out, "%s_sum{%.*s} %.3f\n", name, (int)strlen(labels) - 1, labels, h->sum);
		buf_printf(out, "%s_count{%.*s} %llu\n", name, (int)strlen(labels) - 1, labels,
			   h->count);
	} else {
		buf_printf(out, "%s_sum %.3f\n%s_count %llu\n", name, h->sum, name, h->count);
	}
}

/* name_cmp - htable entries by key */
static int name_cmp(const void *a, const void *b)
{
	return strcmp((*(struct htable_info *const *)a)->key, (*(struct htable_info *const *)b)->key);
}

/* busier - domains by total outcomes, most first, then by name */
static int busier(const void *a, const void *b)
{
	const struct domain_counts *x = *(struct domain_counts *const *)a;
	const struct domain_counts *y = *(struct domain_counts *const *)b;
	unsigned long long tx = 0, ty = 0;

	for (int i = 0; i < QMGR_OUTCOMES; i++) {
		tx += x->outcome[i];
		ty += y->outcome[i];
	}
	if (tx != ty)
		return tx > ty ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* qmgr_metrics_text - append the Prometheus text of everything above */
void qmgr_metrics_text(struct buf *out)
{
	struct htable_info **list = NULL;
	struct domain_counts **top;
	struct buf *lab = buf_create(64);
	size_t n = 0, nd = 0;

	if (transports)
		list = htable_list(transports, &n);
	if (n > 1)
		qsort(list, n, sizeof(*list), name_cmp);

	head(out, "sluice_delivery_recipients_total", "counter",
	     "Recipients by transport and outcome (one per delivery log line).");
	for (size_t i = 0; i < n; i++) {
		const struct transport_counts *t = list[i]->value;

		for (int o = 0; o < QMGR_OUTCOMES; o++) {
			buf_puts(out, "sluice_delivery_recipients_total{transport=\"");
			label(out, list[i]->key);
			buf_printf(out, "\",status=\"%s\"} %llu\n", outcome_names[o], t->outcome[o]);
		}
	}
	head(out, "sluice_delivery_delay_seconds", "histogram",
	     "Time from arrival to delivery of delivered recipients, by transport.");
	for (size_t i = 0; i < n; i++) {
		buf_reset(lab);
		buf_puts(lab, "transport=\"");
		label(lab, list[i]->key);
		buf_puts(lab, "\",");
		histogram(out, "sluice_delivery_delay_seconds", buf_str(lab),
			  &((const struct transport_counts *)list[i]->value)->delay,
			  delay_bounds, DELAY_BUCKETS);
	}
	free(list);

	/* The busiest destination domains. */
	list = domains ? htable_list(domains, &nd) : NULL;
	top = xcalloc(nd + 1, sizeof(*top));
	for (size_t i = 0; i < nd; i++)
		top[i] = list[i]->value;
	top[nd++] = &other_domains;
	qsort(top, nd, sizeof(*top), busier);
	head(out, "sluice_destination_recipients_total", "counter",
	     "Recipients by destination domain and outcome (the busiest domains).");
	for (size_t i = 0; i < nd && i < DOMAINS_SHOWN; i++) {
		if (top[i] == &other_domains
		    && top[i]->outcome[0] + top[i]->outcome[1] + top[i]->outcome[2] == 0)
			continue;	/* "other" only once some domain was left out */
		for (int o = 0; o < QMGR_OUTCOMES; o++) {
			buf_puts(out, "sluice_destination_recipients_total{domain=\"");
			label(out, top[i]->name);
			buf_printf(out, "\",status=\"%s\"} %llu\n", outcome_names[o],
				   top[i]->outcome[o]);
		}
	}
	free(top);
	free(list);

	head(out, "sluice_qmgr_messages_inserted_recipients", "histogram",
	     "Recipients per message entering the active queue.");
	histogram(out, "sluice_qmgr_messages_inserted_recipients", "", &inserted_nrcpt,
		  nrcpt_bounds, NRCPT_BUCKETS);
	head(out, "sluice_qmgr_messages_inserted_size_bytes", "histogram",
	     "Content size of messages entering the active queue.");
	histogram(out, "sluice_qmgr_messages_inserted_size_bytes", "", &inserted_size,
		  size_bounds, SIZE_BUCKETS);
	head(out, "sluice_qmgr_messages_removed_total", "counter",
	     "Messages removed from the queue when done.");
	buf_printf(out, "sluice_qmgr_messages_removed_total %llu\n", removed_count);
	head(out, "sluice_qmgr_messages_expired_total", "counter",
	     "Messages returned to the sender after maximal_queue_lifetime.");
	buf_printf(out, "sluice_qmgr_messages_expired_total %llu\n", expired_count);

	head(out, "sluice_queue_messages", "gauge",
	     "Messages by queue folder, as the queue manager counts them.");
	buf_printf(out, "sluice_queue_messages{queue=\"active\"} %ld\n", qmgr_message_count);
	buf_printf(out, "sluice_queue_messages{queue=\"deferred\"} %ld\n",
		   qmgr_defer_index_size());
	head(out, "sluice_queue_recipients", "gauge", "Recipients in the queue manager's memory.");
	buf_printf(out, "sluice_queue_recipients{queue=\"active\"} %ld\n", qmgr_sched->recipient_count);
	buf_free(&lab);
}
