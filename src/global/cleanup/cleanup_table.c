/*
 * cleanup_table - a parameter's table list, opened on first use (see
 * cleanup_table.h).
 */
#include <stdlib.h>
#include <string.h>

#include "global/cleanup/cleanup_table.h"
#include "global/maps.h"
#include "util/log.h"
#include "util/mem.h"

/* cleanup_table_close - forget the open maps and the value they were opened with */
void cleanup_table_close(struct cleanup_table *t)
{
	maps_free(&t->maps);
	free(t->spec);
	t->spec = NULL;
}

/* cleanup_table_get - the open maps (NULL: none configured); -1 when they cannot be opened */
int cleanup_table_get(struct cleanup_table *t, struct maps **maps_r)
{
	const char *value = *t->var ? *t->var : "", *err;

	/* A changed parameter or a rebuilt table file: open again. */
	if (t->spec && (strcmp(t->spec, value) != 0 || (t->maps && maps_changed(t->maps))))
		cleanup_table_close(t);
	if (t->spec == NULL) {
		if (*value && (t->maps = maps_open(value, &err)) == NULL) {
			msg_warn("%s: %s", t->param, err);
			return -1;
		}
		t->spec = xstrdup(value);
	}
	*maps_r = t->maps;
	return 0;
}
