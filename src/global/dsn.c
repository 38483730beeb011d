/*
 * dsn - delivery status vocabulary (see dsn.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "global/dsn.h"

static const struct {
	const char *name;
	int bit;
} notify_names[] = {
	{"NEVER", DSN_NOTIFY_NEVER},
	{"SUCCESS", DSN_NOTIFY_SUCCESS},
	{"FAILURE", DSN_NOTIFY_FAILURE},
	{"DELAY", DSN_NOTIFY_DELAY},
};

/* dsn_notify_parse - keyword list to bits */
int dsn_notify_parse(const char *text)
{
	int bits = 0, found;
	size_t n;

	while (*text) {
		text += strspn(text, ", \t");
		if (*text == 0)
			break;
		n = strcspn(text, ", \t");
		found = 0;
		for (size_t i = 0; i < sizeof(notify_names) / sizeof(notify_names[0]); i++) {
			if (strlen(notify_names[i].name) == n
			    && strncasecmp(text, notify_names[i].name, n) == 0) {
				bits |= notify_names[i].bit;
				found = 1;
			}
		}
		if (!found)
			return -1;
		text += n;
	}
	/* RFC 3461: NEVER must stand alone. */
	if ((bits & DSN_NOTIFY_NEVER) && (bits & DSN_NOTIFY_ANY))
		return -1;
	return bits;
}

/* dsn_notify_str - bits to keywords */
const char *dsn_notify_str(int bits)
{
	static char out[64];

	out[0] = 0;
	for (size_t i = 0; i < sizeof(notify_names) / sizeof(notify_names[0]); i++) {
		if (bits & notify_names[i].bit) {
			if (out[0])
				strcat(out, ",");
			strcat(out, notify_names[i].name);
		}
	}
	return out;
}

/* dsn_ret_parse - FULL/HDRS */
int dsn_ret_parse(const char *text)
{
	if (*text == 0)
		return 0;
	if (strcasecmp(text, "FULL") == 0)
		return DSN_RET_FULL;
	if (strcasecmp(text, "HDRS") == 0)
		return DSN_RET_HDRS;
	return -1;
}

/* dsn_ret_str - RET keyword */
const char *dsn_ret_str(int ret)
{
	return ret == DSN_RET_FULL ? "FULL" : ret == DSN_RET_HDRS ? "HDRS" : "";
}

/* status_len - length of a leading X.Y.Z, or 0 */
static size_t status_len(const char *s)
{
	const char *cp = s;
	size_t n;

	if (*cp != '2' && *cp != '4' && *cp != '5')
		return 0;
	if (cp[1] != '.')
		return 0;
	cp += 2;
	for (n = 0; isdigit((unsigned char)cp[n]); n++)
		;
	if (n < 1 || n > 3 || cp[n] != '.')
		return 0;
	cp += n + 1;
	for (n = 0; isdigit((unsigned char)cp[n]); n++)
		;
	if (n < 1 || n > 3)
		return 0;
	cp += n;
	return (size_t)(cp - s);
}

/* dsn_status_valid - whole string is X.Y.Z */
bool dsn_status_valid(const char *text)
{
	size_t n = status_len(text);

	return n > 0 && text[n] == 0;
}

/* dsn_status_from_text - leading enhanced status code */
const char *dsn_status_from_text(const char *text, char status_r[16])
{
	size_t n;

	while (*text == ' ')
		text++;
	n = status_len(text);
	if (n == 0 || (text[n] != 0 && text[n] != ' ' && text[n] != '\t'))
		return NULL;
	memcpy(status_r, text, n);
	status_r[n] = 0;
	text += n;
	while (*text == ' ' || *text == '\t')
		text++;
	return text;
}

/* dsn_status_default - class default */
void dsn_status_default(int cls, char status_r[16])
{
	snprintf(status_r, 16, "%d.0.0", cls == 2 || cls == 4 || cls == 5 ? cls : 4);
}
