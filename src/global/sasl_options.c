/*
 * sasl_options - Postfix's SASL security option words (see sasl_options.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include <sasl/sasl.h>

#include "global/sasl_options.h"
#include "util/mem.h"
#include "util/strutil.h"

/* sasl_security_flags - option words to SASL_SEC_* bits */
int sasl_security_flags(const char *list, const char **bad_r)
{
	static const struct {
		const char *word;
		unsigned flag;
	} words[] = {
		{"noplaintext", SASL_SEC_NOPLAINTEXT},
		{"noactive", SASL_SEC_NOACTIVE},
		{"nodictionary", SASL_SEC_NODICTIONARY},
		{"noanonymous", SASL_SEC_NOANONYMOUS},
		{"forward_secrecy", SASL_SEC_FORWARD_SECRECY},
		{"mutual_auth", SASL_SEC_MUTUAL_AUTH},
	};
	static char bad[64];
	char *copy = xstrdup(list), *cp = copy, *w;
	unsigned flags = 0;

	while ((w = str_token(&cp, ", \t\r\n")) != NULL) {
		size_t i;

		for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			if (strcasecmp(w, words[i].word) == 0)
				break;
		if (i == sizeof(words) / sizeof(words[0])) {
			snprintf(bad, sizeof(bad), "%s", w);
			*bad_r = bad;
			free(copy);
			return -1;
		}
		flags |= words[i].flag;
	}
	free(copy);
	return (int)flags;
}
