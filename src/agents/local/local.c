/*
 * local - the local delivery agent (Postfix local(8), simplified): mail for
 * the domains in mydestination.
 *
 * For each recipient of a request:
 *   1. A message that already carries "Delivered-To: <recipient>" has been
 *      here before: bounce it (5.4.6 mail forwarding loop).
 *   2. alias_maps: the local part (lower case) is looked up with its
 *      address extension, then without it.  The value lists destinations
 *      (local_alias.h): other addresses are resubmitted as one new message
 *      through cleanup ("forwarded as ID"), with the unmatched extension
 *      propagated as Postfix does; |command and /file destinations run
 *      with the rights of the alias table's owner (default_privs when root
 *      owns it) and only when allow_mail_to_commands/_files contain "alias"
 *      ("include" for what an :include: file lists, whose owner's rights
 *      then apply); :include: files are read with the current rights.  An
 *      alias that names itself is delivered to the mailbox, not expanded
 *      again; every destination is used at most once per recipient, and
 *      :include: nesting is limited.
 *   3. Otherwise local_recipient_maps (local_recipient.h): a recipient
 *      nobody knows goes to fallback_transport, else luser_relay, else
 *      bounces 5.1.1; a system user's .forward comes next.
 *   4. Then the mailbox: mailbox_transport when set (handed to that
 *      service, local_pass.c); with local_mailbox_base set (the embedded
 *      default) the Maildir local_mailbox_base/<user>/, written as this
 *      agent's user (mail_owner when root), no system account needed;
 *      else the system account <user> (none: fallback_transport,
 *      luser_relay or "unknown user" 5.1.1): mailbox_command, home_mailbox
 *      (a Maildir when it ends in "/") or the mbox
 *      mail_spool_directory/<user>, written as the user.
 * A recipient whose destinations had mixed fates gets the worst of them
 * (deferred over bounced over delivered); addresses are forwarded only
 * when nothing else failed, so a retry does not forward twice.
 *
 * Address verification (sendmail -bv) goes through the same steps but
 * only says what would happen ("delivers to mailbox", "forwards to ...").
 *
 * The agent keeps root when started as root (agent_server keep_root) and
 * switches to the right account per delivery (local_deliver.c); it never
 * runs a command or writes a user's file as root.
 *
 * DIAGNOSTICS: alias table problems and malformed alias values are
 * warnings and defer the recipient with 4.3.5 until fixed.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agents/common/agent_server.h"
#include "agents/local/local.h"
#include "agents/local/local_alias.h"
#include "global/mail_server.h"
#include "global/local_recipient.h"
#include "global/mail_conf.h"
#include "global/maps.h"
#include "global/notice.h"
#include "global/params.h"
#include "global/queue_file.h"
#include "global/split_addr.h"
#include "util/argv.h"
#include "util/buf.h"
#include "util/htable.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

#define INCLUDE_DEPTH_MAX	10

/* One table of alias_maps with the owner whose rights its commands get. */
struct alias_table {
	struct maps *maps;
	uid_t owner;
};

static struct alias_table *alias_tables;
static size_t alias_table_count;
static bool aliases_open;
static char *mailbox_base;	/* local_mailbox_base made absolute, or NULL */

/* The state of one recipient's delivery. */
struct rcpt_state {
	struct local_msg m;
	char *localpart;	/* lower case, with extension */
	char delim;		/* the delimiter found, or 0 */
	struct htable *seen;	/* destinations used already */
	struct argv *forward;	/* addresses to resubmit */
	int worst;		/* LOCAL_STAT_* */
	struct local_result first_bad;
	struct buf *done;	/* what succeeded, for the reason */
	int destinations;
	bool verify;		/* sendmail -bv: say what would happen, do nothing */
	char *owner;		/* owner-listname: sender of the expansion, or NULL */
	const char *pass_param;	/* mailbox_transport or fallback_transport, or NULL */
	const char *pass_spec;	/* its value: the transport to hand the recipient to */
};

/* ---- configuration ---- */

/* open_aliases - alias_maps, one table at a time (for their owners); 0 or -1 */
static int open_aliases(void)
{
	struct argv *specs;
	const char *error;
	struct stat st;

	if (aliases_open)
		return 0;
	specs = maps_split(var_alias_maps);
	alias_tables = xcalloc(specs->argc ? specs->argc : 1, sizeof(*alias_tables));
	for (size_t i = 0; i < specs->argc; i++) {
		const char *spec = specs->argv[i], *colon = strchr(spec, ':');

		if ((alias_tables[i].maps = maps_open(spec, &error)) == NULL) {
			msg_warn("alias_maps: %s", error);
			for (size_t j = 0; j < i; j++)
				maps_free(&alias_tables[j].maps);
			XFREE(alias_tables);
			argv_free(&specs);
			return -1;
		}
		/* A table in a file belongs to the file's owner; inline ones to root. */
		alias_tables[i].owner = 0;
		if (colon && colon[1] == '/' && stat(colon + 1, &st) == 0)
			alias_tables[i].owner = st.st_uid;
	}
	alias_table_count = specs->argc;
	argv_free(&specs);
	aliases_open = true;
	return 0;
}

/* local_pre_init - settle paths while the working directory is known */
static void local_pre_init(void)
{
	char cwd[PATH_MAX];

	if (*var_local_mailbox_base == 0)
		return;
	if (*var_local_mailbox_base == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		mailbox_base = xstrdup(var_local_mailbox_base);
	else
		mailbox_base = xasprintf("%s/%s", cwd, var_local_mailbox_base);
}

/*
 * mailbox_base_ready - as root, make local_mailbox_base (and its parents)
 * when missing and give it to mail_owner, who writes the Maildirs in it:
 * the folder that holds it (./var, next to the queue) usually belongs to
 * root.  An existing folder is left as the postmaster made it.
 */
static void mailbox_base_ready(const struct local_privs *owner)
{
	static bool done;
	struct stat st;
	char *path;

	if (done || geteuid() != 0)
		return;
	done = true;
	if (stat(mailbox_base, &st) == 0 || errno != ENOENT)
		return;
	path = xstrdup(mailbox_base);
	for (char *cp = path + 1; *cp; cp++) {
		if (*cp != '/')
			continue;
		*cp = 0;
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			msg_warn("mkdir %s: %s", path, strerror(errno));
		*cp = '/';
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		msg_warn("mkdir %s: %s", path, strerror(errno));
	else if (chown(path, owner->uid, owner->gid) < 0)
		msg_warn("chown %s: %s", path, strerror(errno));
	free(path);
}

/* ---- privileges ---- */

/* owner_privs - rights for destinations from a table or file owned by owner */
static int owner_privs(uid_t owner, struct local_privs *p, struct local_result *res)
{
	struct passwd *pw;

	if (geteuid() != 0) {
		local_privs_self(p);
		return 0;
	}
	if (owner != 0 && (pw = getpwuid(owner)) != NULL) {
		if (local_privs_from_name(pw->pw_name, p) == 0)
			return 0;
	}
	if (local_privs_from_name(var_default_privs, p) < 0 || p->uid == 0) {
		msg_warn("default_privs: unknown or privileged user \"%s\"", var_default_privs);
		local_result_set(res, LOCAL_STAT_DEFER, "4.3.5", "mail system configuration error");
		return -1;
	}
	return 0;
}

/* ---- outcomes ---- */

/* note - combine one destination's result into the recipient's */
static void note(struct rcpt_state *s, const struct local_result *res)
{
	s->destinations++;
	if (res->stat == LOCAL_STAT_OK) {
		buf_printf(s->done, "%s%s", buf_len(s->done) ? "; " : "", res->reason);
		return;
	}
	if (msg_verbose) {
		struct buf r, t;

		buf_init(&r, 64);
		buf_init(&t, 128);
		msg_info("%s: <%s>: %s", s->m.d->req->queue_id, log_escape(&r, s->m.recipient),
			 log_escape(&t, res->reason));
		buf_deinit(&r);
		buf_deinit(&t);
	}
	if (res->stat > s->worst) {
		s->worst = res->stat;
		s->first_bad = *res;
	}
}

/* ---- mailboxes ---- */

/* valid_box_name - a local part that can name a folder */
static bool valid_box_name(const char *name)
{
	if (*name == 0 || *name == '.' || strchr(name, '/') != NULL)
		return false;
	for (const unsigned char *cp = (const unsigned char *)name; *cp; cp++)
		if (*cp < 0x20 || *cp == 0x7f)
			return false;
	return true;
}

/* raw_param - a parameter's value unexpanded ($home etc. are per recipient) */
static const char *raw_param(const char *name)
{
	const char *v = mail_conf_raw(name);

	return v ? v : mail_conf_default(name);
}

/*
 * expand_vars - $name / ${name} of the recipient in a forward_path entry or
 * luser_relay: home, shell (p, may be NULL), user, local, extension,
 * domain, recipient, recipient_delimiter; other names expand to "".
 * Caller frees.
 */
static char *expand_vars(const struct rcpt_state *s, const char *text,
			 const struct local_privs *p)
{
	struct buf b;
	char delim[2] = {s->delim, 0};

	buf_init(&b, 128);
	for (const char *cp = text; *cp;) {
		const char *name, *end, *v = "";
		size_t n;

		if (*cp != '$') {
			buf_putc(&b, *cp++);
			continue;
		}
		if (cp[1] == '$') {
			buf_putc(&b, '$');
			cp += 2;
			continue;
		}
		if (cp[1] == '{' && (end = strchr(cp, '}')) != NULL) {
			name = cp + 2;
			n = (size_t)(end - name);
			cp = end + 1;
		} else {
			name = cp + 1;
			for (n = 0; name[n] == '_' || (name[n] >= 'a' && name[n] <= 'z'); n++)
				;
			cp = name + n;
		}
#define IS(x) (n == strlen(x) && strncmp(name, x, n) == 0)
		if (IS("home"))
			v = p ? p->home : "";
		else if (IS("shell"))
			v = p ? p->shell : "";
		else if (IS("user"))
			v = s->m.user;
		else if (IS("local"))
			v = s->localpart;
		else if (IS("extension"))
			v = s->m.extension;
		else if (IS("domain"))
			v = s->m.domain;
		else if (IS("recipient"))
			v = s->m.recipient;
		else if (IS("recipient_delimiter"))
			v = *s->m.extension ? delim : "";
#undef IS
		buf_puts(&b, v);
	}
	return buf_steal(&b);
}

/*
 * pass_to - the recipient goes to another transport (handed over by
 * report(), once everything else of this recipient went well).
 */
static void pass_to(struct rcpt_state *s, const char *param, const char *spec)
{
	if (s->pass_spec != NULL)
		return;
	s->pass_param = param;
	s->pass_spec = spec;
	s->destinations++;
}

/* unknown_user - fallback_transport, else luser_relay, else 5.1.1 */
static void unknown_user(struct rcpt_state *s, const char *name)
{
	struct local_result res;
	const char *relay = raw_param("luser_relay");

	if (var_fallback_transport && *var_fallback_transport) {
		pass_to(s, "fallback_transport", var_fallback_transport);
		return;
	}

	if (relay && *relay) {
		char *to = expand_vars(s, relay, NULL);

		argv_add(s->forward, to, (char *)NULL);
		s->destinations++;
		free(to);
		return;
	}
	local_result_set(&res, LOCAL_STAT_BOUNCE, "5.1.1", "unknown user: \"%s\"", name);
	note(s, &res);
}

/* deliver_mailbox - the mailbox of user name */
static void deliver_mailbox(struct rcpt_state *s, const char *name)
{
	struct local_result res;
	struct local_privs p;
	char *key = xasprintf("mailbox:%s", name), *path;

	if (htable_find(s->seen, key)) {
		free(key);
		return;
	}
	htable_enter(s->seen, key, s);
	free(key);

	/* mailbox_transport: for every local user, system account or not. */
	if (var_mailbox_transport && *var_mailbox_transport) {
		pass_to(s, "mailbox_transport", var_mailbox_transport);
		return;
	}

	/* The embedded default: a Maildir per local part, no accounts needed. */
	if (mailbox_base) {
		if (!valid_box_name(name)) {
			local_result_set(&res, LOCAL_STAT_BOUNCE, "5.1.3",
					 "invalid mailbox name: \"%s\"", name);
		} else if (geteuid() == 0 && local_privs_from_name(var_mail_owner, &p) < 0) {
			msg_warn("mail_owner: unknown user \"%s\"", var_mail_owner);
			local_result_set(&res, LOCAL_STAT_DEFER, "4.3.5",
					 "mail system configuration error");
		} else {
			if (geteuid() != 0)
				local_privs_self(&p);
			path = xasprintf("%s/%s", mailbox_base, name);
			if (s->verify) {
				local_result_set(&res, LOCAL_STAT_OK, "2.0.0", "delivers to maildir");
			} else {
				mailbox_base_ready(&p);
				local_deliver_maildir(&s->m, path, &p, &res);
			}
			free(path);
		}
		note(s, &res);
		return;
	}

	if (local_privs_from_name(name, &p) < 0) {
		unknown_user(s, name);
		return;
	}
	/* Never as root: root's mail is written with default_privs' rights. */
	if (p.uid == 0 && geteuid() == 0) {
		struct local_privs dp;

		if (local_privs_from_name(var_default_privs, &dp) < 0 || dp.uid == 0) {
			msg_warn("default_privs: unknown or privileged user \"%s\"", var_default_privs);
			local_result_set(&res, LOCAL_STAT_DEFER, "4.3.5",
					 "mail system configuration error");
			note(s, &res);
			return;
		}
		p.uid = dp.uid;
		p.gid = dp.gid;
	}
	if (*var_mailbox_command) {
		/*
		 * procmail, Dovecot's deliver ...: as the user, instead of a mailbox.
		 * Unexpanded, as Postfix reads it: "$HOME" and the like are the
		 * shell's, from the command's environment.
		 */
		const char *cmd = raw_param("mailbox_command");

		if (s->verify)
			local_result_set(&res, LOCAL_STAT_OK, "2.0.0", "delivers to command: %s", cmd);
		else
			local_deliver_command(&s->m, cmd, &p, &res);
		note(s, &res);
		return;
	}
	if (*var_home_mailbox) {
		size_t len = strlen(var_home_mailbox);

		path = xasprintf("%s/%s", p.home, var_home_mailbox);
		if (var_home_mailbox[len - 1] == '/') {
			path[strlen(path) - 1] = 0;
			if (s->verify)
				local_result_set(&res, LOCAL_STAT_OK, "2.0.0", "delivers to maildir");
			else
				local_deliver_maildir(&s->m, path, &p, &res);
		} else if (s->verify) {
			local_result_set(&res, LOCAL_STAT_OK, "2.0.0", "delivers to mailbox");
		} else {
			local_deliver_mbox(&s->m, path, &p, false, &res);
		}
	} else {
		path = xasprintf("%s/%s", var_mail_spool_directory, name);
		if (s->verify)
			local_result_set(&res, LOCAL_STAT_OK, "2.0.0", "delivers to mailbox");
		else
			local_deliver_mbox(&s->m, path, &p, true, &res);
	}
	free(path);
	note(s, &res);
}

/* ---- alias expansion ---- */

static void expand(struct rcpt_state *s, const char *name, const char *value,
		   const struct local_privs *p, const char *class, int depth);

/* is_self - does address name the alias being expanded? */
static bool is_self(const struct rcpt_state *s, const char *name, const char *addr)
{
	const char *at;

	/* "\\user" in a .forward or an alias: this user's mailbox, not expanded again. */
	if (*addr == '\\')
		addr++;
	at = strrchr(addr, '@');
	size_t lp_len = at ? (size_t)(at - addr) : strlen(addr);

	if (strlen(name) != lp_len || strncasecmp(addr, name, lp_len) != 0)
		return false;
	return at == NULL || str_casecmp_ascii(at + 1, s->m.domain) == 0
		|| str_list_match(var_mydestination, at + 1);
}

/* add_extension - "ann@x" + "+ext" = "ann+ext@x" (propagated extension) */
static char *add_extension(const char *addr, char delim, const char *ext)
{
	const char *at = strrchr(addr, '@');

	if (at == NULL)
		return xasprintf("%s%c%s", addr, delim, ext);
	return xasprintf("%.*s%c%s%s", (int)(at - addr), addr, delim, ext, at);
}

/* once - first use of this destination for this recipient? */
static bool once(struct rcpt_state *s, const struct local_dest *dest)
{
	char *key = xasprintf("%s:%s", local_dest_kind_name(dest->kind), dest->text);
	bool first = htable_find(s->seen, key) == NULL;

	if (first)
		htable_enter(s->seen, key, s);
	free(key);
	return first;
}

/* include - expand an :include: file */
static void include(struct rcpt_state *s, const char *name, const char *path,
		    const struct local_privs *p, int depth)
{
	struct local_result res;
	struct local_privs owner;
	struct buf *content;
	uid_t uid;

	if (depth >= INCLUDE_DEPTH_MAX) {
		local_result_set(&res, LOCAL_STAT_BOUNCE, "5.4.6",
				 "include nesting exceeds %d levels at %s", INCLUDE_DEPTH_MAX, path);
		note(s, &res);
		return;
	}
	content = buf_create(1024);
	if (local_read_include(&s->m, path, p, content, &uid, &res) != 0) {
		note(s, &res);
		buf_free(&content);
		return;
	}
	/* What the file lists runs with its owner's rights (root's: unchanged). */
	if (uid != 0 && geteuid() == 0) {
		if (owner_privs(uid, &owner, &res) < 0) {
			note(s, &res);
			buf_free(&content);
			return;
		}
		p = &owner;
	}
	expand(s, name, buf_str(content), p, "include", depth + 1);
	buf_free(&content);
}

/* expand - deliver to every destination of an alias value */
static void expand(struct rcpt_state *s, const char *name, const char *value,
		   const struct local_privs *p, const char *class, int depth)
{
	struct local_dest_list list = {0};
	struct local_result res;
	const char *error;
	bool from_file = strcmp(class, "include") == 0 || strcmp(class, "forward") == 0;

	if (local_alias_parse(value, from_file, &list, &error) < 0) {
		struct buf esc;

		buf_init(&esc, 64);
		msg_warn("%s: alias \"%s\": %s", s->m.d->req->queue_id, log_escape(&esc, name),
			 error);
		buf_deinit(&esc);
		local_result_set(&res, LOCAL_STAT_DEFER, "4.3.5", "mail system configuration error");
		note(s, &res);
		return;
	}
	for (size_t i = 0; i < list.count; i++) {
		const struct local_dest *dest = &list.v[i];

		if (!once(s, dest))
			continue;
		switch (dest->kind) {
		case LOCAL_DEST_ADDRESS: {
			const char *addr = dest->text + (dest->text[0] == '\\');

			if (is_self(s, name, dest->text)) {
				deliver_mailbox(s, s->m.user);
			} else if (s->delim && *s->m.extension && strcmp(name, s->localpart) != 0) {
				/* Matched without the extension: pass it on (Postfix default). */
				char *ext = add_extension(addr, s->delim, s->m.extension);

				argv_add(s->forward, ext, (char *)NULL);
				free(ext);
				s->destinations++;
			} else {
				argv_add(s->forward, addr, (char *)NULL);
				s->destinations++;
			}
			break;
		}
		case LOCAL_DEST_COMMAND:
			if (!str_list_match(var_allow_mail_to_commands, class)) {
				local_result_set(&res, LOCAL_STAT_BOUNCE, "5.7.1",
						 "mail to command is restricted");
			} else if (s->verify) {
				local_result_set(&res, LOCAL_STAT_OK, "2.0.0",
						 "delivers to command: %s", dest->text);
			} else {
				local_deliver_command(&s->m, dest->text, p, &res);
			}
			note(s, &res);
			break;
		case LOCAL_DEST_FILE:
			if (!str_list_match(var_allow_mail_to_files, class)) {
				local_result_set(&res, LOCAL_STAT_BOUNCE, "5.7.1",
						 "mail to file is restricted");
			} else if (s->verify) {
				local_result_set(&res, LOCAL_STAT_OK, "2.0.0",
						 "delivers to file: %s", dest->text);
			} else {
				local_deliver_file(&s->m, dest->text, p, &res);
			}
			note(s, &res);
			break;
		case LOCAL_DEST_INCLUDE:
			include(s, name, dest->text, p, depth);
			break;
		}
	}
	if (list.count == 0 && depth == 0) {
		struct buf esc;

		buf_init(&esc, 64);
		msg_warn("%s: alias \"%s\" has no destinations", s->m.d->req->queue_id,
			 log_escape(&esc, name));
		buf_deinit(&esc);
		local_result_set(&res, LOCAL_STAT_DEFER, "4.3.5", "mail system configuration error");
		note(s, &res);
	}
	local_dest_list_deinit(&list);
}

/*
 * lookup_alias - MAPS_FOUND with the value and its table's owner,
 * MAPS_NOTFOUND, or MAPS_ERROR (logged): a table that cannot be read is not
 * "no alias", or the mail would go to a mailbox the alias redirects from.
 */
static int lookup_alias(const char *key, const char **value_r, uid_t *owner_r)
{
	const char *error;
	int rc;

	for (size_t i = 0; i < alias_table_count; i++) {
		rc = maps_lookup(alias_tables[i].maps, key, 0, value_r, &error);
		if (rc == MAPS_ERROR)
			msg_warn("alias_maps lookup of \"%s\": %s", key, error);
		if (rc == MAPS_FOUND)
			*owner_r = alias_tables[i].owner;
		if (rc != MAPS_NOTFOUND)
			return rc;
	}
	return MAPS_NOTFOUND;
}

/* ---- .forward ---- */

/*
 * try_forward - the user's .forward (the first forward_path entry that
 * exists), read as the user and expanded with the user's rights in class
 * "forward"; true when one was used.  An empty one (only comments) is
 * ignored, as Postfix ignores it.  A file the user does not own (nor root)
 * is ignored with a warning: somebody else could redirect the mail.
 */
static bool try_forward(struct rcpt_state *s, const struct local_privs *user)
{
	const char *list = raw_param("forward_path");
	struct argv *paths;
	struct local_privs rights;
	struct local_result res;
	bool used = false;

	if (list == NULL || *list == 0)
		return false;
	/* Root's .forward runs with default_privs' rights, as root's mailbox is written. */
	rights = *user;
	if (user->uid == 0 && geteuid() == 0 && owner_privs(0, &rights, &res) < 0) {
		note(s, &res);
		return true;
	}
	paths = argv_split(list, ", \t\r\n");
	for (size_t i = 0; i < paths->argc && !used; i++) {
		char *path = expand_vars(s, paths->argv[i], user), *key;
		struct local_dest_list dests = {0};
		struct buf *content;
		const char *error;
		uid_t owner;
		int r;

		key = xasprintf("forward:%s", path);
		if (*path != '/' || htable_find(s->seen, key)) {
			free(key);
			free(path);
			continue;
		}
		htable_enter(s->seen, key, s);
		free(key);
		content = buf_create(256);
		r = local_read_include(&s->m, path, &rights, content, &owner, &res);
		if (r == LOCAL_INCLUDE_MISSING) {
			/* Not there: the next entry. */
		} else if (r < 0) {
			note(s, &res);
			used = true;
		} else if (owner != user->uid && owner != 0) {
			msg_warn("%s: %s is owned by uid %lu, not by %s; ignored",
				 s->m.d->req->queue_id, path, (unsigned long)owner, user->name);
		} else if (local_alias_parse(buf_str(content), 1, &dests, &error) == 0
			   && dests.count == 0) {
			/* Empty: as if there were none. */
		} else {
			expand(s, s->m.user, buf_str(content), &rights, "forward", 0);
			used = true;
		}
		local_dest_list_deinit(&dests);
		buf_free(&content);
		free(path);
	}
	argv_free(&paths);
	return used;
}

/*
 * deliver_user - a recipient that is no alias: local_recipient_maps (an
 * unknown one goes to luser_relay or bounces 5.1.1), the user's .forward
 * (system users), then the mailbox.
 */
static void deliver_user(struct rcpt_state *s)
{
	struct local_result res;
	struct local_privs p;
	const char *error;
	int known = local_recipient_find(s->m.recipient, &error);

	if (known < 0) {
		msg_warn("%s: local_recipient_maps: %s", s->m.d->req->queue_id, error);
		local_result_set(&res, LOCAL_STAT_DEFER, "4.3.0", "lookup table not available");
		note(s, &res);
		return;
	}
	if (known == 0) {
		unknown_user(s, s->m.user);
		return;
	}
	if (mailbox_base == NULL && local_privs_from_name(s->m.user, &p) == 0
	    && try_forward(s, &p))
		return;
	deliver_mailbox(s, s->m.user);
}

/* ---- recipients ---- */

/* report - the recipient's outcome, recorded through the skeleton */
static int report(struct rcpt_state *s)
{
	struct agent_delivery *d = s->m.d;
	struct local_result res;
	struct dsn dsn;
	const char *action = "delivered";

	/* Forward only when nothing else failed: a retry must not forward twice. */
	if (s->forward->argc > 0 && s->worst == LOCAL_STAT_OK) {
		if (s->verify) {
			struct buf *list = buf_create(64);

			for (size_t i = 0; i < s->forward->argc; i++)
				buf_printf(list, "%s%s", i ? ", " : "", s->forward->argv[i]);
			local_result_set(&res, LOCAL_STAT_OK, "2.0.0", "forwards to %s",
					 buf_str(list));
			buf_free(&list);
		} else {
			local_forward(&s->m, s->forward, &res);
		}
		if (res.stat == LOCAL_STAT_OK) {
			buf_printf(s->done, "%s%s", buf_len(s->done) ? "; " : "", res.reason);
			action = s->destinations > 1 ? "expanded" : "relayed";
		} else {
			s->worst = res.stat;
			s->first_bad = res;
		}
	}
	/* mailbox_transport / fallback_transport: that agent records the outcome. */
	if (s->pass_spec != NULL && s->worst == LOCAL_STAT_OK) {
		int state = local_pass(d, s->m.index, s->pass_param, s->pass_spec, &res);

		if (state < 0)
			return -1;
		if (state > 0) {
			agent_rcpt_passed(d, s->m.index, state);
			return 0;
		}
		s->worst = res.stat;
		s->first_bad = res;
	}
	switch (s->worst) {
	case LOCAL_STAT_OK:
		dsn = agent_dsn("2.0.0", action, buf_str(s->done));
		agent_rcpt_sent(d, s->m.index, &dsn, d->service);
		return 0;
	case LOCAL_STAT_BOUNCE:
		dsn = agent_dsn(s->first_bad.status, "failed", s->first_bad.reason);
		agent_rcpt_bounce(d, s->m.index, &dsn, d->service);
		return 0;
	case LOCAL_STAT_DEFER:
		dsn = agent_dsn(s->first_bad.status, "delayed", s->first_bad.reason);
		agent_rcpt_defer(d, s->m.index, &dsn, d->service);
		return 0;
	default: {
		struct buf esc;

		buf_init(&esc, 128);
		msg_warn("%s: %s", d->req->queue_id, log_escape(&esc, s->first_bad.reason));
		buf_deinit(&esc);
		return -1;
	}
	}
}

/* deliver_rcpt - aliases, then the mailbox; 0, or -1 for a damaged file */
static int deliver_rcpt(struct agent_delivery *d, size_t i, const char *headers,
			size_t header_len)
{
	const struct deliver_rcpt *r = &d->req->rcpt[i];
	struct rcpt_state s;
	struct local_result res;
	struct local_privs p;
	const char *at = strrchr(r->address, '@'), *value = NULL, *name = NULL;
	char *user;
	size_t ext;
	uid_t owner = 0;
	int rc, arc = MAPS_NOTFOUND;

	memset(&s, 0, sizeof(s));
	s.m.d = d;
	s.m.index = i;
	s.m.recipient = r->address;
	s.m.orig_rcpt = *r->orig_rcpt ? r->orig_rcpt : r->address;
	s.m.domain = at ? at + 1 : "";
	s.localpart = str_lower(at ? xstrndup(r->address, (size_t)(at - r->address))
				: xstrdup(r->address));
	s.m.localpart = s.localpart;
	ext = split_addr_ext(s.localpart, var_recipient_delimiter);
	user = xstrndup(s.localpart, ext);
	s.m.user = user;
	s.m.extension = s.localpart[ext] ? s.localpart + ext + 1 : "";
	s.delim = s.localpart[ext];
	s.seen = htable_create(16);
	s.forward = argv_create();
	s.done = buf_create(64);
	s.verify = (d->req->flags & DEL_REQ_FLAG_VERIFY) != 0;

	if (local_loop_check(headers, header_len, r->address)) {
		local_result_set(&res, LOCAL_STAT_BOUNCE, "5.4.6", "mail forwarding loop for %s",
				 r->address);
		note(&s, &res);
	} else if (alias_table_count > 0
		   && ((arc = lookup_alias(name = s.localpart, &value, &owner)) == MAPS_ERROR
		       || (arc == MAPS_NOTFOUND && ext < strlen(s.localpart)
			   && (arc = lookup_alias(name = user, &value, &owner)) == MAPS_ERROR))) {
		local_result_set(&res, LOCAL_STAT_DEFER, "4.3.0", "lookup table not available");
		note(&s, &res);
	} else if (arc == MAPS_FOUND) {
		/*
		 * owner-NAME in the aliases: the expansion of NAME goes out with
		 * owner-NAME as its sender, so that its bounces reach the list's
		 * owner, not the poster (Postfix's owner_request_special).
		 */
		if (var_owner_request_special && strncmp(name, "owner-", 6) != 0) {
			char *okey = xasprintf("owner-%s", name);
			const char *ovalue;
			uid_t oowner;

			if (lookup_alias(okey, &ovalue, &oowner) == MAPS_FOUND) {
				s.owner = xasprintf("%s@%s", okey, *s.m.domain ? s.m.domain
						    : var_myorigin);
				s.m.sender = s.owner;
			}
			free(okey);
		}
		if (owner_privs(owner, &p, &res) < 0)
			note(&s, &res);
		else
			expand(&s, name, value, &p, "alias", 0);
	} else {
		deliver_user(&s);
	}
	rc = report(&s);

	htable_free(&s.seen, NULL);
	argv_free(&s.forward);
	buf_free(&s.done);
	free(s.localpart);
	free(s.owner);
	free(user);
	return rc;
}

/* Collecting the header block for the loop check. */
struct header_ctx {
	struct buf *text;
	bool complete;
};

/* header_chunk - gather content up to the empty line (or the size limit) */
static int header_chunk(const char *data, size_t len, void *ctx)
{
	struct header_ctx *h = ctx;
	size_t limit = var_header_size_limit > 0 ? (size_t)var_header_size_limit : 102400;

	buf_append(h->text, data, len);
	if (h->text->len > limit || strstr(buf_str(h->text), "\n\n") != NULL
	    || str_has_prefix(buf_str(h->text), "\n")) {
		h->complete = true;
		return -1;
	}
	return 0;
}

/* local_deliver - one request */
static int local_deliver(struct agent_delivery *d)
{
	struct header_ctx h = {.text = buf_create(4096)};
	const char *error;
	int r, rc = 0;

	/* A damaged message is found before anything is delivered from it. */
	if ((r = agent_validate(d)) < 0) {
		buf_free(&h.text);
		return r == QF_CORRUPT ? -1 : 0;
	}
	/* The header block once per request, for the Delivered-To: loop check. */
	r = qf_read_content(d->qf, header_chunk, &h, &error);
	if (r == QF_CORRUPT) {
		msg_warn("%s: %s", d->req->queue_id, error);
		buf_free(&h.text);
		return -1;
	}
	if (r < 0 && !h.complete) {
		struct dsn dsn = agent_dsn("4.3.0", "delayed", "error reading the queued message");

		msg_warn("%s: reading the queue file: %s", d->req->queue_id, error);
		agent_defer_pending(d, &dsn, d->service);
		buf_free(&h.text);
		return 0;
	}
	/* A rebuilt alias table is used from this request on (the agent also
	 * exits after it: agent_server's table check). */
	for (size_t i = 0; aliases_open && i < alias_table_count; i++) {
		if (maps_changed(alias_tables[i].maps)) {
			for (size_t j = 0; j < alias_table_count; j++)
				maps_free(&alias_tables[j].maps);
			XFREE(alias_tables);
			alias_table_count = 0;
			aliases_open = false;
		}
	}
	if (!aliases_open && *var_alias_maps && open_aliases() < 0) {
		/* The warning says which table and why (missing file, bad line). */
		struct dsn dsn = agent_dsn("4.3.0", "delayed", "lookup table not available");

		notice_warn(NOTICE_DATA, d->req->queue_id, d->req->sender, "alias table unavailable",
			    "The local delivery agent cannot open alias_maps = %s. Mail to local "
			    "recipients is deferred until it can.", var_alias_maps);
		agent_defer_pending(d, &dsn, d->service);
		buf_free(&h.text);
		return 0;
	}
	agent_connected(d);
	for (size_t i = 0; i < d->req->rcpt_count && rc == 0; i++)
		rc = deliver_rcpt(d, i, buf_str(h.text), buf_len(h.text));
	buf_free(&h.text);
	return rc;
}

/* main - the local agent */
int main(int argc, char **argv)
{
	static const struct agent_server_conf conf = {
		.progname = "local",
		.deliver = local_deliver,
		.pre_init = local_pre_init,
		.keep_root = true,
	};

	agent_server_main(argc, argv, &conf);
}
