/*
 * dict_regexp - pattern tables: regexp: (POSIX regcomp) and pcre: (PCRE2),
 * in the file syntax of Postfix's regexp_table(5) and pcre_table(5):
 *
 *   /pattern/flags result      the first pattern that matches answers
 *   !/pattern/flags result     ... that does not match (no $n in result)
 *   /pat1/!/pat2/ result       regexp: pat1 matches and pat2 does not
 *   if /pattern/flags          the rules up to the matching endif apply
 *   endif                      only to keys that match (if/endif nest)
 *
 * The delimiter is the first character of the pattern ("/" by custom); a
 * backslash before it keeps it in the pattern.  Flags toggle: regexp has i
 * (case-insensitive is the default), x (extended syntax is the default), m
 * (REG_NEWLINE); pcre has i (default on), m, s (default on), x, A, E, U,
 * and X (accepted and ignored: PCRE2 has no PCRE_EXTRA, as in Postfix).
 * Results: $1..$99, ${1} or $(1) is the text a group matched (empty when it
 * matched nothing), $$ a dollar.
 *
 * Where Postfix warns and skips a line (a pattern that does not compile, an
 * unknown flag, $n beyond the pattern's groups, a missing result, an if
 * without endif) sluice refuses the table with file:line and the reason: a
 * rule silently gone changes where mail goes.
 *
 * Pattern tables see keys as given (not folded) and are only asked full
 * keys (DICT_PROP_PATTERN): maps_addr.c does not ask them for "@domain".
 */
#include <errno.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "global/dict_private.h"
#include "global/table_text.h"
#include "util/buf.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"

#define MAX_GROUPS	99

/* One regular-expression engine. */
struct re_engine {
	const char *what;	/* "regexp", "pcre" */
	int default_options;
	/* option - toggle flag c in *options; false for an unknown flag */
	bool (*option)(char c, int *options);
	/* compile - NULL with a message in err */
	void *(*compile)(const char *pattern, int options, size_t *groups_r, char *err,
			 size_t errlen);
	/* match - 1, 0, or -1 (a matching error); ovec gets 2*(groups+1) offsets,
	 * (size_t)-1 for a group that did not take part. */
	int (*match)(void *re, const char *s, size_t len, size_t *ovec, size_t groups);
	void (*free)(void *re);
};

/* A piece of a result: literal text, or group n. */
struct piece {
	char *text;		/* NULL: a group */
	size_t group;
};

#define OP_MATCH	1
#define OP_IF		2
#define OP_ENDIF	3

struct rule {
	int op;
	int lineno;
	void *re;
	bool match;		/* true: the key must match; false: must not */
	void *re2;		/* regexp "/a/!/b/": b must not match */
	size_t groups;
	struct piece *pieces;	/* result */
	size_t npieces;
	size_t endif;		/* OP_IF: index of its endif */
};

struct re_table {
	const struct re_engine *engine;
	struct rule *rules;
	size_t count;
	size_t *ovec;		/* 2 * (MAX_GROUPS + 1) */
	struct buf result;
};

/*
 * A regexp: table is first compiled in a child process (regexp_trial), where
 * each pattern may take TRIAL_PATTERN_CPU seconds of CPU, the whole table
 * TRIAL_TABLE_CPU, and the child TRIAL_MEMORY bytes more address space than
 * it started with.  posix_size() below refuses the shapes known to make
 * glibc's regcomp() slow with a message that says why; the trial bounds
 * the ones it does not know.  The child's progress and verdict come back in
 * a shared page.  A table whose every line is plainly cheap (see
 * line_is_cheap) skips the trial.
 */
#define TRIAL_PATTERN_CPU	2
#define TRIAL_TABLE_CPU		20
#define TRIAL_WALL		(TRIAL_TABLE_CPU + 10)	/* a child that spends no CPU */
#define TRIAL_MEMORY		(1024UL * 1024 * 1024)

struct re_trial {
	int lineno;		/* the line being compiled */
	int refused;		/* the table was refused: error holds why */
	char error[1024];
};

static struct re_trial *trial;	/* set in the trial child only */

/* ---- POSIX ---- */

static bool posix_option(char c, int *options)
{
	switch (c) {
	case 'i':
		*options ^= REG_ICASE;
		return true;
	case 'x':
		*options ^= REG_EXTENDED;
		return true;
	case 'm':
		*options ^= REG_NEWLINE;
		return true;
	}
	return false;
}

/*
 * posix_size - an upper estimate of the nodes glibc's regcomp() builds for
 * pattern, and of the copies it makes of operands that can match the empty
 * string.  regcomp() copies the operand of every bounded repetition: "x+"
 * is "xx*", "x{2,50}" fifty copies, and a repetition of a repetition copies
 * the copies, so "((x{99}){99}){99}" is a million nodes.  Copies of an
 * operand that can match nothing ("x*", "(a|)", "x{0,3}") are much dearer:
 * each is a loop of empty transitions whose closures regcomp() computes for
 * every node, so that "x*+++++++++++++" (8,192 copies) takes 40 seconds
 * where "x+++++++++++++" (the same count, no empty match) takes none; a
 * group copied k times copies the loops inside it k times too, and more
 * than four repetitions stacked on such a part are refused whatever its
 * size ("(.*)++++" 12 ms, "(.*)+++++" minutes).
 * The pattern is read in its syntax: in an extended one "(", "|", "+",
 * "?" and "{" are operators and escaped they are characters; in a basic one
 * the other way round (GNU's "\(", "\|", "\+", "\?", "\{").  A repetition
 * with nothing before it to repeat is counted as a character (regcomp()
 * either refuses it or takes it so).  Saturates at SIZE_MAX.
 */
#define POSIX_MAX_NODES		20000
#define POSIX_MAX_EMPTY_COPIES	256
#define POSIX_MAX_EMPTY_STACK	4
#define POSIX_MAX_DEPTH		64

static size_t sat_add(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static size_t sat_mul(size_t a, size_t b)
{
	return b != 0 && a > SIZE_MAX / b ? SIZE_MAX : a * b;
}

/*
 * posix_bound - "m}", "m,}", "m,n}" after the "{": the larger count, or 0
 * when it is not a bound; *min_r the smaller
 */
static size_t posix_bound(const char **pp, size_t *min_r)
{
	const char *p = *pp;
	size_t m = 0, n = 0;
	bool comma = false;

	for (; *p && *p != '}'; p++) {
		if (*p == ',')
			comma = true;
		else if (*p >= '0' && *p <= '9')
			*(comma ? &n : &m) = sat_add(sat_mul(*(comma ? &n : &m), 10), *p - '0');
		else if (*p != '\\')
			return 0;	/* not a bound: regcomp() says so */
	}
	if (*p == 0)
		return 0;
	*pp = p + 1;
	*min_r = m;
	return (comma && n == 0 ? m + 1 : (n > m ? n : m));
}

/* What posix_size() keeps per group level. */
struct posix_level {
	size_t total;		/* nodes so far */
	size_t copies;		/* copies made so far of parts that can match nothing */
	size_t last;		/* nodes of the last operand */
	size_t last_copies;	/* such copies inside it */
	bool last_empty;	/* the last operand can match nothing */
	int stacked;		/* repetitions on it while it could */
	bool seq_empty;		/* so can this alternative, so far */
	bool before_empty;	/* ... without its last operand */
	bool alt_empty;		/* an earlier alternative can */
};

/*
 * operand - an operand of nodes nodes appended at level l, with copies
 * copies of parts that can match nothing inside it
 */
static void operand(struct posix_level *l, size_t nodes, bool empty, size_t copies)
{
	l->last = nodes;
	l->stacked = 0;
	l->last_copies = copies;
	l->last_empty = empty;
	l->total = sat_add(l->total, nodes);
	l->copies = sat_add(l->copies, copies);
	l->before_empty = l->seq_empty;
	l->seq_empty = l->seq_empty && empty;
}

/* may_be_empty - the last operand at level l can match nothing now */
static void may_be_empty(struct posix_level *l)
{
	l->last_empty = true;
	l->seq_empty = l->before_empty;
}

static size_t posix_size(const char *p, bool extended, size_t *empty_copies_r)
{
	struct posix_level lv[POSIX_MAX_DEPTH + 1];
	int depth = 0;

	memset(lv, 0, sizeof(lv));
	lv[0].seq_empty = lv[0].before_empty = true;
	while (*p) {
		struct posix_level *l = &lv[depth];
		char c = *p++;
		size_t k = 0, min = 1;

		if (c == '\\' && *p) {
			c = *p++;
			/* Escaped: a character, or in a basic pattern GNU's operators. */
			if (extended || strchr("(){|+?", c) == NULL)
				c = 'a';
		} else if (!extended && strchr("(){|+?", c) != NULL) {
			c = 'a';	/* a character in a basic pattern */
		}
		/* Nothing to repeat: the repetition counts as a character. */
		if ((c == '*' || c == '+' || c == '?' || c == '{') && l->last == 0)
			c = 'a';
		switch (c) {
		case '(':
			if (++depth > POSIX_MAX_DEPTH)
				return SIZE_MAX;
			memset(&lv[depth], 0, sizeof(lv[depth]));
			lv[depth].seq_empty = lv[depth].before_empty = true;
			continue;
		case ')':
			if (depth == 0)
				break;
			depth--;
			operand(&lv[depth], sat_add(l->total, 1), l->alt_empty || l->seq_empty,
				l->copies);
			continue;
		case '|':
			l->total = sat_add(l->total, 1);
			l->alt_empty = l->alt_empty || l->seq_empty;
			l->seq_empty = l->before_empty = true;
			l->last = 0;
			continue;
		case '*':
		case '?':
			/* one more node, part of the operand a later repetition copies */
			l->total = sat_add(l->total, 1);
			l->last = sat_add(l->last, 1);
			may_be_empty(l);
			continue;
		case '+':
			k = 2;
			break;
		case '{':
			k = posix_bound(&p, &min);
			break;
		case '[':
			/* [] or [^] take a leading "]"; [: :], [. .], [= =] hold one */
			if (*p == '^')
				p++;
			if (*p == ']')
				p++;
			for (; *p && *p != ']'; p++)
				if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
					const char *end = strchr(p + 2, p[1]);

					if (end == NULL || end[1] != ']')
						break;
					p = end + 1;
				}
			if (*p)
				p++;
			break;
		}
		if (k > 1) {
			/*
			 * The operand's k - 1 more copies: of the loops inside it,
			 * or, when it can match nothing itself, all of its nodes k
			 * times (those inside were counted once already).
			 */
			size_t made;

			if (l->last_empty || min == 0) {
				/* "(.*)+++++" takes glibc minutes at any size */
				if (++l->stacked > POSIX_MAX_EMPTY_STACK)
					l->copies = SIZE_MAX;
				made = sat_mul(l->last, k) - (l->last_copies < sat_mul(l->last, k)
							       ? l->last_copies : sat_mul(l->last, k));
				l->last_copies = sat_mul(l->last, k);
			} else {
				made = sat_mul(l->last_copies, k - 1);
				l->last_copies = sat_mul(l->last_copies, k);
			}
			l->copies = sat_add(l->copies, made);
			l->total = sat_add(l->total, sat_mul(l->last, k - 1));
			l->last = sat_mul(l->last, k);
			if (min == 0)
				may_be_empty(l);
		} else if (c == '{' && k == 1 && min == 0) {
			may_be_empty(l);	/* x{0,1} */
		} else if (k == 0 && c != '{' && c != '+') {
			operand(l, 1, false, 0);
		}
	}
	while (depth > 0) {
		lv[depth - 1].total = sat_add(lv[depth - 1].total, lv[depth].total);
		lv[depth - 1].copies = sat_add(lv[depth - 1].copies, lv[depth].copies);
		depth--;
	}
	*empty_copies_r = lv[0].copies;
	return lv[0].total;
}

static void *posix_compile(const char *pattern, int options, size_t *groups_r, char *err,
			   size_t errlen)
{
	regex_t *re;
	size_t empty_copies;
	int rc;

	if (posix_size(pattern, (options & REG_EXTENDED) != 0, &empty_copies) > POSIX_MAX_NODES) {
		snprintf(err, errlen, "too complex: its repetitions expand to more than %d "
			 "nodes (nested or stacked +, {m,n})", POSIX_MAX_NODES);
		return NULL;
	}
	if (empty_copies > POSIX_MAX_EMPTY_COPIES) {
		snprintf(err, errlen, "too complex: its repetitions copy a part that can match "
			 "nothing more than %d times (like x*+++ or (a|){99})", POSIX_MAX_EMPTY_COPIES);
		return NULL;
	}
	re = xmalloc(sizeof(*re));
	if (trial) {
		struct itimerval it = {.it_value = {.tv_sec = TRIAL_PATTERN_CPU}};

		setitimer(ITIMER_PROF, &it, NULL);
	}
	rc = regcomp(re, pattern, options);
	if (trial) {
		struct itimerval off = {0};

		setitimer(ITIMER_PROF, &off, NULL);
	}

	if (rc != 0) {
		regerror(rc, re, err, errlen);
		regfree(re);
		free(re);
		return NULL;
	}
	*groups_r = re->re_nsub;
	return re;
}

static int posix_match(void *re, const char *s, size_t len, size_t *ovec, size_t groups)
{
	regmatch_t pm[MAX_GROUPS + 1];
	size_t n = groups + 1 > MAX_GROUPS + 1 ? MAX_GROUPS + 1 : groups + 1;

	if (regexec(re, s, n, pm, 0) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		ovec[2 * i] = pm[i].rm_so < 0 ? (size_t)-1 : (size_t)pm[i].rm_so;
		ovec[2 * i + 1] = pm[i].rm_eo < 0 ? (size_t)-1 : (size_t)pm[i].rm_eo;
	}
	return 1;
}

static void posix_free(void *re)
{
	regfree(re);
	free(re);
}

static const struct re_engine posix_engine = {
	.what = "regexp", .default_options = REG_EXTENDED | REG_ICASE,
	.option = posix_option, .compile = posix_compile, .match = posix_match,
	.free = posix_free,
};

/* ---- PCRE2 ---- */

static bool pcre_option(char c, int *options)
{
	static const struct {
		char c;
		int flag;
	} flags[] = {
		{'i', PCRE2_CASELESS}, {'m', PCRE2_MULTILINE}, {'s', PCRE2_DOTALL},
		{'x', PCRE2_EXTENDED}, {'A', PCRE2_ANCHORED}, {'E', PCRE2_DOLLAR_ENDONLY},
		{'U', PCRE2_UNGREEDY}, {'X', 0},
	};

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (flags[i].c == c) {
			*options ^= flags[i].flag;
			return true;
		}
	}
	return false;
}

/* The match data, shared by all rules (sized for MAX_GROUPS). */
static pcre2_match_data *pcre_md;

static void *pcre_compile_re(const char *pattern, int options, size_t *groups_r, char *err,
			     size_t errlen)
{
	int code;
	PCRE2_SIZE offset;
	uint32_t groups;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
				       (uint32_t)options, &code, &offset, NULL);

	if (re == NULL) {
		char msg[256];

		pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, sizeof(msg));
		snprintf(err, errlen, "%s at offset %zu", msg, (size_t)offset);
		return NULL;
	}
	pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &groups);
	*groups_r = groups;
	return re;
}

static int pcre_match_re(void *re, const char *s, size_t len, size_t *ovec, size_t groups)
{
	PCRE2_SIZE *ov;
	int rc;

	if (pcre_md == NULL)
		pcre_md = pcre2_match_data_create(MAX_GROUPS + 1, NULL);
	rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, pcre_md, NULL);
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc < 0)
		return -1;
	ov = pcre2_get_ovector_pointer(pcre_md);
	for (size_t i = 0; i <= groups && i <= MAX_GROUPS; i++) {
		bool set = rc == 0 || i < (size_t)rc;

		ovec[2 * i] = set && ov[2 * i] != PCRE2_UNSET ? ov[2 * i] : (size_t)-1;
		ovec[2 * i + 1] = set && ov[2 * i + 1] != PCRE2_UNSET ? ov[2 * i + 1] : (size_t)-1;
	}
	return 1;
}

static void pcre_free_re(void *re)
{
	pcre2_code_free(re);
}

static const struct re_engine pcre_engine = {
	.what = "pcre", .default_options = PCRE2_CASELESS | PCRE2_DOTALL,
	.option = pcre_option, .compile = pcre_compile_re, .match = pcre_match_re,
	.free = pcre_free_re,
};

/* ---- parsing ---- */

/* get_pattern - "!/pat/flags" at *pp: compile it; -1 with *error_r */
static int get_pattern(struct dict *d, const struct re_engine *e, int lineno, char **pp,
		       bool allow_second, void **re_r, bool *match_r, size_t *groups_r,
		       const char **error_r)
{
	char *p = *pp, *pattern, delim, err[256];
	int options = e->default_options;

	*match_r = true;
	for (; *p == '!' || *p == ' ' || *p == '\t'; p++)
		if (*p == '!')
			*match_r = !*match_r;
	if (*p == 0)
		return dict_fail(error_r, "%s:%d: missing pattern", d->name, lineno);
	delim = *p++;
	pattern = p;
	for (; *p && *p != delim; p++)
		if (*p == '\\' && p[1])
			p++;
	if (*p == 0)
		return dict_fail(error_r, "%s:%d: no closing pattern delimiter \"%c\"", d->name,
				 lineno, delim);
	*p++ = 0;
	for (; *p && *p != ' ' && *p != '\t' && !(allow_second && *p == '!'); p++)
		if (!e->option(*p, &options))
			return dict_fail(error_r, "%s:%d: unknown %s flag \"%c\"", d->name, lineno,
					 e->what, *p);
	if ((*re_r = e->compile(pattern, options, groups_r, err, sizeof(err))) == NULL)
		return dict_fail(error_r, "%s:%d: error in %s pattern \"%s\": %s", d->name, lineno,
				 e->what, pattern, err);
	*pp = p;
	return 0;
}

/* add_piece - append to a rule's result */
static void add_piece(struct rule *r, char *text, size_t group)
{
	r->pieces = xreallocarray(r->pieces, r->npieces + 1, sizeof(*r->pieces));
	r->pieces[r->npieces].text = text;
	r->pieces[r->npieces].group = group;
	r->npieces++;
}

/* parse_result - "text $1 ${2} $$" into pieces; max group in *max_r */
static int parse_result(struct dict *d, int lineno, const char *s, struct rule *r,
			size_t *max_r, const char **error_r)
{
	struct buf lit;
	const char *cp = s;

	*max_r = 0;
	buf_init(&lit, 32);
	while (*cp) {
		const char *name;
		size_t len;
		long n;
		char close = 0;

		if (*cp != '$') {
			buf_putc(&lit, *cp++);
			continue;
		}
		if (cp[1] == '$') {
			buf_putc(&lit, '$');
			cp += 2;
			continue;
		}
		cp++;
		if (*cp == '{' || *cp == '(') {
			close = *cp == '{' ? '}' : ')';
			name = ++cp;
			len = strcspn(cp, close == '}' ? "}" : ")");
			if (cp[len] != close) {
				buf_deinit(&lit);
				return dict_fail(error_r, "%s:%d: missing '%c' in result \"%s\"",
						 d->name, lineno, close, s);
			}
		} else {
			name = cp;
			for (len = 0; (cp[len] >= '0' && cp[len] <= '9') || (cp[len] >= 'a' && cp[len] <= 'z')
			     || (cp[len] >= 'A' && cp[len] <= 'Z') || cp[len] == '_'; len++)
				;
		}
		if (len == 0 || strspn(name, "0123456789") < len) {
			buf_deinit(&lit);
			return dict_fail(error_r, "%s:%d: bad substitution in result \"%s\" (need $1 "
					 "... $%d, ${1} or $$)", d->name, lineno, s, MAX_GROUPS);
		}
		n = strtol(name, NULL, 10);
		if (n < 1 || n > MAX_GROUPS) {
			buf_deinit(&lit);
			return dict_fail(error_r, "%s:%d: substitution $%.*s out of range", d->name,
					 lineno, (int)len, name);
		}
		cp = name + len + (close != 0);
		if (lit.len) {
			add_piece(r, xstrdup(buf_str(&lit)), 0);
			buf_reset(&lit);
		}
		add_piece(r, NULL, (size_t)n);
		if ((size_t)n > *max_r)
			*max_r = (size_t)n;
	}
	if (lit.len || r->npieces == 0)
		add_piece(r, xstrdup(buf_str(&lit)), 0);
	buf_deinit(&lit);
	return 0;
}

/* is_word - the keyword kw (any case) at p, not followed by a letter or digit */
static bool is_word(const char *p, const char *kw)
{
	size_t n = strlen(kw);

	return strncasecmp(p, kw, n) == 0 && !((p[n] >= 'a' && p[n] <= 'z')
					       || (p[n] >= 'A' && p[n] <= 'Z')
					       || (p[n] >= '0' && p[n] <= '9'));
}

/* parse_rule - one logical line into r */
static int parse_rule(struct dict *d, const struct re_engine *e, int lineno, char *p,
		      struct rule *r, const char **error_r)
{
	size_t max_sub;
	bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');

	r->lineno = lineno;
	if (!alnum) {
		r->op = OP_MATCH;
		if (get_pattern(d, e, lineno, &p, e == &posix_engine, &r->re, &r->match, &r->groups,
				error_r) < 0)
			return -1;
		if (*p == '!' && e == &posix_engine) {
			size_t g2;
			bool m2;

			if (get_pattern(d, e, lineno, &p, false, &r->re2, &m2, &g2, error_r) < 0)
				return -1;
		}
		p += strspn(p, " \t");
		if (*p == 0)
			return dict_fail(error_r, "%s:%d: missing result after the pattern", d->name,
					 lineno);
		if (parse_result(d, lineno, p, r, &max_sub, error_r) < 0)
			return -1;
		if (max_sub > 0 && !r->match)
			return dict_fail(error_r, "%s:%d: $%zu in the result of a negated pattern",
					 d->name, lineno, max_sub);
		if (max_sub > r->groups)
			return dict_fail(error_r, "%s:%d: $%zu in the result, but the pattern has %zu "
					 "group%s", d->name, lineno, max_sub, r->groups,
					 r->groups == 1 ? "" : "s");
		return 0;
	}
	if (is_word(p, "if")) {
		r->op = OP_IF;
		p += 2;
		p += strspn(p, " \t");
		if (get_pattern(d, e, lineno, &p, false, &r->re, &r->match, &r->groups, error_r) < 0)
			return -1;
		p += strspn(p, " \t");
		if (*p)
			return dict_fail(error_r, "%s:%d: text after the if pattern: \"%s\" (lines "
					 "between if and endif must not start with white space)",
					 d->name, lineno, p);
		return 0;
	}
	if (is_word(p, "endif")) {
		r->op = OP_ENDIF;
		p += 5 + strspn(p + 5, " \t");
		if (*p)
			return dict_fail(error_r, "%s:%d: text after endif: \"%s\"", d->name, lineno, p);
		return 0;
	}
	return dict_fail(error_r, "%s:%d: expected /pattern/ result, if /pattern/ or endif",
			 d->name, lineno);
}

/* free_rule - release one rule */
static void free_rule(const struct re_engine *e, struct rule *r)
{
	if (r->re)
		e->free(r->re);
	if (r->re2)
		e->free(r->re2);
	for (size_t i = 0; i < r->npieces; i++)
		free(r->pieces[i].text);
	free(r->pieces);
}

/* re_open - read and compile the whole file */
static int re_open(struct dict *d, const struct re_engine *e, const char **error_r)
{
	struct re_table *t = xcalloc(1, sizeof(*t));
	struct table_text r;
	struct buf line;
	size_t *stack = NULL, depth = 0, cap = 0;
	int lineno, rc, status = 0;

	t->engine = e;
	buf_init(&t->result, 64);
	t->ovec = xcalloc(2 * (MAX_GROUPS + 1), sizeof(*t->ovec));
	d->ctx = t;
	if (table_text_open(&r, d->name, error_r) < 0)
		return -1;
	d->path = xstrdup(d->name);
	dict_remember_file(d, fileno(r.fp));
	buf_init(&line, 128);
	while (status == 0 && (rc = table_text_next(&r, &line, &lineno, error_r)) != 0) {
		struct rule *rule;

		if (rc < 0) {
			status = -1;
			break;
		}
		if (trial)
			trial->lineno = lineno;
		t->rules = xreallocarray(t->rules, t->count + 1, sizeof(*t->rules));
		rule = &t->rules[t->count++];
		memset(rule, 0, sizeof(*rule));
		if (parse_rule(d, e, lineno, buf_str(&line), rule, error_r) < 0) {
			status = -1;
		} else if (rule->op == OP_IF) {
			if (depth == cap) {
				cap = cap ? 2 * cap : 8;
				stack = xreallocarray(stack, cap, sizeof(*stack));
			}
			stack[depth++] = t->count - 1;
		} else if (rule->op == OP_ENDIF) {
			if (depth == 0)
				status = dict_fail(error_r, "%s:%d: endif without if", d->name, lineno);
			else
				t->rules[stack[--depth]].endif = t->count - 1;
		}
	}
	if (status == 0 && depth > 0)
		status = dict_fail(error_r, "%s:%d: if without endif", d->name,
				   t->rules[stack[depth - 1]].lineno);
	free(stack);
	buf_deinit(&line);
	table_text_close(&r);
	return status;
}

/* trial_limits - the child's CPU and memory bounds */
static void trial_limits(void)
{
	struct rlimit cpu = {TRIAL_TABLE_CPU, TRIAL_TABLE_CPU + 1};
	unsigned long pages = 0;
	FILE *fp;

	signal(SIGPROF, SIG_DFL);
	signal(SIGXCPU, SIG_DFL);
	setrlimit(RLIMIT_CPU, &cpu);
	/* Address space is what a sanitizer build has reserved plus the margin. */
	if ((fp = fopen("/proc/self/statm", "r")) != NULL) {
		if (fscanf(fp, "%lu", &pages) == 1) {
			struct rlimit as;

			as.rlim_cur = as.rlim_max = pages * (rlim_t)sysconf(_SC_PAGESIZE)
			    + TRIAL_MEMORY;
			setrlimit(RLIMIT_AS, &as);
		}
		fclose(fp);
	}
}

/*
 * line_is_cheap - a logical line whose patterns regcomp() compiles in
 * little time whatever they hold: at most TRIAL_CHEAP_LINE bytes, and,
 * backslashes aside, no "{", no repetition after ")" and no two repetition
 * operators in a row.  Only "+" then copies an operand, and only a single
 * atom, so a pattern is a few hundred nodes at most.  Conservative: the
 * result text is looked at too.
 */
#define TRIAL_CHEAP_LINE	256

static bool line_is_cheap(const char *s)
{
	char prev = 0;

	if (strlen(s) > TRIAL_CHEAP_LINE)
		return false;
	for (; *s; s++) {
		bool rep = *s == '*' || *s == '+' || *s == '?';

		if (*s == '\\')
			continue;
		if (*s == '{' || (rep && (prev == ')' || prev == '*' || prev == '+'
					  || prev == '?')))
			return false;
		prev = *s;
	}
	return true;
}

/* table_is_cheap - every logical line of d's file is; false when unsure */
static bool table_is_cheap(struct dict *d)
{
	struct table_text r;
	struct buf line;
	const char *error = NULL;
	int lineno, rc;
	bool cheap = true;

	if (table_text_open(&r, d->name, &error) < 0)
		return false;
	buf_init(&line, 128);
	while (cheap && (rc = table_text_next(&r, &line, &lineno, &error)) != 0)
		cheap = rc > 0 && line_is_cheap(buf_str(&line));
	buf_deinit(&line);
	table_text_close(&r);
	return cheap;
}

/*
 * regexp_trial - compile d's file in a child under the trial limits; 0 when
 * it compiled there (or no child could be made: then posix_size() alone
 * guards), -1 with *error_r when the table is refused or a pattern ran past
 * a limit.
 */
static int regexp_trial(struct dict *d, const char **error_r)
{
	struct re_trial *shared;
	pid_t pid;
	int status;

	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	if (shared == MAP_FAILED) {
		msg_warn("%s: compiling regexp table unguarded: mmap: %s", d->name,
			 strerror(errno));
		return 0;
	}
	memset(shared, 0, sizeof(*shared));
	if ((pid = fork()) < 0) {
		msg_warn("%s: compiling regexp table unguarded: fork: %s", d->name,
			 strerror(errno));
		munmap(shared, sizeof(*shared));
		return 0;
	}
	if (pid == 0) {
		const char *error = NULL;

		trial = shared;
		trial_limits();
		if (re_open(d, &posix_engine, &error) < 0) {
			snprintf(shared->error, sizeof(shared->error), "%s",
				 error ? error : "refused");
			shared->refused = 1;
		}
		_exit(0);
	}
	/*
	 * Its CPU limits end a child that computes; TRIAL_WALL ends one that
	 * waits, as a sanitizer build's child can when it runs out of address
	 * space while reporting that.
	 */
	if (wait_pid_until(pid, &status, mono_time() + TRIAL_WALL) < 0) {
		if (errno == ETIMEDOUT) {
			(void)kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			dict_fail(error_r, "%s:%d: pattern too costly to compile: over %d s without "
				  "a verdict", d->name, shared->lineno, TRIAL_WALL);
			munmap(shared, sizeof(*shared));
			return -1;
		}
		msg_warn("%s: compiling regexp table unguarded: waitpid: %s", d->name,
			 strerror(errno));
		status = 0;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		int rc = shared->refused ? dict_fail(error_r, "%s", shared->error) : 0;

		munmap(shared, sizeof(*shared));
		return rc;
	}
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGPROF)
		dict_fail(error_r, "%s:%d: pattern too costly to compile: over %d s of CPU",
			  d->name, shared->lineno, TRIAL_PATTERN_CPU);
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU)
		dict_fail(error_r, "%s: table too costly to compile: over %d s of CPU (at line %d)",
			  d->name, TRIAL_TABLE_CPU, shared->lineno);
	else
		dict_fail(error_r, "%s:%d: pattern too costly to compile: over %lu MiB of memory, "
			  "or the compiler failed (%s %d)", d->name, shared->lineno,
			  TRIAL_MEMORY >> 20, WIFSIGNALED(status) ? "signal" : "exit status",
			  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	munmap(shared, sizeof(*shared));
	return -1;
}

static int regexp_open(struct dict *d, const char **error_r)
{
	if (!table_is_cheap(d) && regexp_trial(d, error_r) < 0)
		return -1;
	return re_open(d, &posix_engine, error_r);
}

static int pcre_open(struct dict *d, const char **error_r)
{
	return re_open(d, &pcre_engine, error_r);
}

/* expand - the result of rule r for key */
static const char *expand(struct re_table *t, const struct rule *r, const char *key)
{
	buf_reset(&t->result);
	for (size_t i = 0; i < r->npieces; i++) {
		const struct piece *p = &r->pieces[i];

		if (p->text) {
			buf_puts(&t->result, p->text);
		} else if (t->ovec[2 * p->group] != (size_t)-1) {
			buf_append(&t->result, key + t->ovec[2 * p->group],
				   t->ovec[2 * p->group + 1] - t->ovec[2 * p->group]);
		}
	}
	return buf_str(&t->result);
}

/* matches - does rule r's test hold for key? 1, 0, or -1 */
static int matches(struct dict *d, struct re_table *t, const struct rule *r, const char *key,
		   size_t len, const char **error_r)
{
	int m = t->engine->match(r->re, key, len, t->ovec, r->groups);

	if (m < 0)
		return dict_fail(error_r, "%s:%d: matching error", d->name, r->lineno);
	if (m == (r->match ? 1 : 0) && r->re2 != NULL) {
		size_t ovec2[2 * (MAX_GROUPS + 1)];
		int m2 = t->engine->match(r->re2, key, len, ovec2, 0);

		if (m2 < 0)
			return dict_fail(error_r, "%s:%d: matching error", d->name, r->lineno);
		return m2 == 0;
	}
	return m == (r->match ? 1 : 0);
}

/* re_get - the first rule that holds */
static int re_get(struct dict *d, const char *key, size_t klen, const char **value_r,
		  size_t *vlen_r, const char **error_r)
{
	struct re_table *t = d->ctx;
	int m;

	for (size_t i = 0; i < t->count; i++) {
		const struct rule *r = &t->rules[i];

		switch (r->op) {
		case OP_MATCH:
			if ((m = matches(d, t, r, key, klen, error_r)) < 0)
				return DICT_ERROR;
			if (m) {
				*value_r = expand(t, r, key);
				*vlen_r = strlen(*value_r);
				return DICT_FOUND;
			}
			break;
		case OP_IF:
			if ((m = matches(d, t, r, key, klen, error_r)) < 0)
				return DICT_ERROR;
			if (!m)
				i = r->endif;
			break;
		default:
			break;
		}
	}
	return DICT_NOTFOUND;
}

/* re_close - release */
static void re_close(struct dict *d)
{
	struct re_table *t = d->ctx;

	if (t == NULL)
		return;
	for (size_t i = 0; i < t->count; i++)
		free_rule(t->engine, &t->rules[i]);
	free(t->rules);
	free(t->ovec);
	buf_deinit(&t->result);
	free(t);
	d->ctx = NULL;
}

const struct dict_ops dict_regexp_ops = {
	.type = "regexp", .props = DICT_PROP_PATTERN, .open = regexp_open, .get = re_get,
	.close = re_close,
};
const struct dict_ops dict_pcre_ops = {
	.type = "pcre", .props = DICT_PROP_PATTERN, .open = pcre_open, .get = re_get,
	.close = re_close,
};
