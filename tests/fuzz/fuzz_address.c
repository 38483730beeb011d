/*
 * fuzz_address - libFuzzer target for address parsing: RFC 5321 paths
 * (global/addr.c, what MAIL FROM / RCPT TO carry) and RFC 5322 address
 * lists (global/rfc822.c, what To/Cc/Bcc and sendmail's arguments carry).
 *
 * The first input byte holds addr_parse_path()'s flags; the rest is the
 * text.  Checked:
 *   - an accepted path is in internal form: the domain in lower case, no
 *     longer than the limits; quoting it and parsing the result as a path
 *     gives the same address (parse -> format -> parse is the identity);
 *   - every address an address list yields that the queue would take
 *     (submission_check_address) survives the same round trip, and every
 *     address of the list, the list written back as "<a>, <b>, ..." parses to the same list;
 *   - an address has a domain only when the text has an "@" outside
 *     quotes ("a@b" quoted is a local part, never an address at b);
 *   - a failure has a reason;
 *   - a display name made from the text never holds a line break, and a
 *     header name length never passes the colon.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "global/addr.h"
#include "global/cleanup/submission.h"
#include "global/rfc822.h"
#include "util/argv.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_address: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	abort(); } } while (0)

/*
 * unquoted_at - does text have an "@" outside quoted strings (comments,
 * where '"' quotes nothing, taken into account)?  An address
 * read from text can only have a domain when it does (a quoted local part
 * such as "a@b" is no address at b).
 */
static bool unquoted_at(const char *text)
{
	bool quoted = false;
	int comment = 0;

	for (const char *cp = text; *cp; cp++) {
		if (*cp == '\\' && cp[1])
			cp++;
		else if (*cp == '"' && comment == 0)
			quoted = !quoted;
		else if (*cp == '(' && !quoted)
			comment++;
		else if (*cp == ')' && !quoted && comment > 0)
			comment--;
		else if (*cp == '@' && !quoted)
			return true;	/* in a comment too: the check stays lenient */
	}
	return false;
}

/* check_internal - shape and round trip of one internal-form address */
static void check_internal(const char *addr)
{
	const char *dom = addr_domain(addr), *err = NULL;
	char *quoted, *path, *again = NULL;

	if (*addr == 0)
		return;
	if (dom)
		for (const char *cp = dom; *cp; cp++)
			check(!(*cp >= 'A' && *cp <= 'Z'));
	quoted = addr_quote(addr);
	path = malloc(strlen(quoted) + 3);
	sprintf(path, "<%s>", quoted);
	if (addr_parse_path(path, ADDR_PATH_UNQUALIFIED, &again, &err) != 0) {
		fprintf(stderr, "fuzz_address: <%s> (from \"%s\") does not parse back: %s\n",
			quoted, addr, err);
		abort();
	}
	check(strcmp(again, addr) == 0);
	free(again);
	check(addr_unquote(quoted, &again, &err) == 0);
	check(strcmp(again, addr) == 0);
	free(again);
	free(path);
	free(quoted);
}

/* path - RFC 5321 */
static void path(const char *text, int flags)
{
	char *addr = NULL;
	const char *err = NULL;

	if (addr_parse_path(text, flags, &addr, &err) < 0) {
		check(err != NULL && *err != 0);
		return;
	}
	check(strlen(addr) <= ADDR_MAX);
	if (strchr(addr, '@'))
		check(unquoted_at(text));
	if (*addr == 0)
		check(flags & ADDR_PATH_NULL_OK);
	else if (!(flags & ADDR_PATH_UNQUALIFIED))
		check(addr_domain(addr) != NULL);
	check_internal(addr);
	(void)addr_valid_domain(text);
	free(addr);
}

/* list - RFC 5322 address-list */
static void list(const char *text)
{
	struct argv *a = argv_create(), *b;
	struct buf *w;
	const char *err = NULL;
	int n = rfc822_addr_list(text, a, &err);

	if (n < 0)
		check(err != NULL && *err != 0);
	else
		check((size_t)n == a->argc);
	if (a->argc == 0) {
		argv_free(&a);
		return;
	}
	w = buf_create(64);
	for (size_t i = 0; i < a->argc; i++) {
		char *q = addr_quote(a->argv[i]);
		const char *why;

		if (strchr(a->argv[i], '@'))
			check(unquoted_at(text));
		/* What the queue accepts (no control characters...) is a valid path. */
		if (submission_check_address(a->argv[i], false, &why) == 0)
			check_internal(a->argv[i]);
		buf_printf(w, "%s<%s>", i ? ", " : "", q);
		free(q);
	}
	b = argv_create();
	if (rfc822_addr_list(buf_str(w), b, &err) != (int)a->argc) {
		fprintf(stderr, "fuzz_address: \"%s\" does not parse back: %s\n", buf_str(w), err);
		abort();
	}
	for (size_t i = 0; i < a->argc; i++)
		check(strcmp(a->argv[i], b->argv[i]) == 0);
	argv_free(&b);
	buf_free(&w);
	argv_free(&a);
}

/* phrase - a display name never breaks the header */
static void phrase(const char *text)
{
	struct buf *b = buf_create(64);
	size_t n;

	rfc822_append_phrase(b, text);
	check(strchr(buf_str(b), '\n') == NULL && strchr(buf_str(b), '\r') == NULL);
	buf_free(&b);
	n = rfc822_header_name_len(text, strlen(text));
	if (n > 0)
		check(strchr(text, ':') != NULL && text + n <= strchr(text, ':'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	int flags;

	if (size < 1)
		return 0;
	flags = data[0] & (ADDR_PATH_BARE | ADDR_PATH_NULL_OK | ADDR_PATH_UNQUALIFIED);
	text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0;
	path(text, flags);
	list(text);
	phrase(text);
	free(text);
	return 0;
}
