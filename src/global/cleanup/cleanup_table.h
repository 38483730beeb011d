/*
 * cleanup_table - one parameter's table list as cleanup keeps it: opened on
 * first use and kept open, opened again when the parameter's value changed
 * or a table file was rebuilt (maps_changed).  cleanup_checks.c (the
 * header and body checks) and cleanup_rewrite.c (canonical, virtual and
 * bcc maps) each keep an array of them.
 *
 * DIAGNOSTICS: a table list that cannot be opened is logged as a warning
 * "PARAM: reason".
 */
#ifndef SLUICE_CLEANUP_TABLE_H
#define SLUICE_CLEANUP_TABLE_H

struct maps;

/* One table list per parameter. */
struct cleanup_table {
	const char *param;		/* the parameter's name, for warnings */
	char **var;			/* its value (params.h) */
	struct maps *maps;		/* NULL: not opened, or the value is empty */
	char *spec;			/* the value it was opened with; NULL: not opened */
};

/*
 * cleanup_table_get - the open maps of t in *maps_r (NULL: the parameter
 * is empty).  Returns 0, or -1 (warning logged) when they cannot be opened.
 */
int cleanup_table_get(struct cleanup_table *t, struct maps **maps_r);

/* cleanup_table_close - close t; the next cleanup_table_get opens it again. */
void cleanup_table_close(struct cleanup_table *t);

#endif
