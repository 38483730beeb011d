/*
 * tls_proto - TLS protocol lists in Postfix's syntax (see tls_proto.h).
 *
 * Pure: no OpenSSL, no I/O; the callers map indexes to library versions.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "global/tls_proto.h"

static const char *const names[TLS_PROTO_COUNT] = {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};

/* tls_proto_name - index to name */
const char *tls_proto_name(int index)
{
	return index >= 0 && index < TLS_PROTO_COUNT ? names[index] : "?";
}

/* version_index - index of a version name, or -1 */
static int version_index(const char *name)
{
	for (int i = 0; i < TLS_PROTO_COUNT; i++)
		if (strcasecmp(name, names[i]) == 0)
			return i;
	return -1;
}

/* tls_proto_range - the allowed range of spec */
int tls_proto_range(const char *spec, int *lo_r, int *hi_r, const char **error_r)
{
	bool allowed[TLS_PROTO_COUNT], named[TLS_PROTO_COUNT], any_named = false;
	char copy[256], *cp = copy, *tok;
	int i, lo = -1, hi = -1, idx;

	if (spec && strlen(spec) >= sizeof(copy)) {
		*error_r = "protocol list too long";
		return -1;
	}
	for (i = 0; i < TLS_PROTO_COUNT; i++)
		allowed[i] = true, named[i] = false;
	snprintf(copy, sizeof(copy), "%s", spec ? spec : "");
	while ((tok = strsep(&cp, ", \t:")) != NULL) {
		if (*tok == 0)
			continue;
		if (strncmp(tok, ">=", 2) == 0 || strncmp(tok, "<=", 2) == 0) {
			if ((idx = version_index(tok + 2)) < 0)
				goto bad;
			for (i = 0; i < TLS_PROTO_COUNT; i++)
				if (tok[0] == '>' ? i < idx : i > idx)
					allowed[i] = false;
		} else if (*tok == '!') {
			if ((idx = version_index(tok + 1)) >= 0)
				allowed[idx] = false;
			else if (strcasecmp(tok + 1, "SSLv2") != 0 && strcasecmp(tok + 1, "SSLv3") != 0)
				goto bad;
		} else {
			if ((idx = version_index(tok)) < 0)
				goto bad;
			named[idx] = any_named = true;
		}
	}
	for (i = 0; i < TLS_PROTO_COUNT; i++) {
		if (!allowed[i] || (any_named && !named[i]))
			continue;
		if (lo < 0)
			lo = i;
		hi = i;
	}
	if (lo < 0) {
		*error_r = "excludes every protocol";
		return -1;
	}
	*lo_r = lo;
	*hi_r = hi;
	return 0;

bad:
	*error_r = "unknown protocol name";
	return -1;
}
