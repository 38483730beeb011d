/*
 * master_inet - the listening sockets of master.cf "inet" services.
 *
 * The service field of an inet service names its endpoint, as in Postfix:
 *
 *   port               every address of inet_interfaces
 *   host:port          that host's addresses
 *   [address]:port     that address (the only way to write an IPv6 one)
 *
 * port is a number or a name from /etc/services ("smtp", "submission").
 * inet_interfaces is "all" (the wildcard addresses), "loopback-only"
 * (127.0.0.1 and ::1), or a list of host names and addresses; only the
 * families inet_protocols allows are used.  master binds as root, so ports
 * below 1024 work, before any child exists; the children inherit the
 * sockets (mail_server.h).
 *
 * DIAGNOSTICS: a service whose sockets cannot all be made is refused with
 * one warning naming the service and the address (master goes on without
 * it, as with a unix service whose endpoint cannot be made).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "global/params.h"
#include "master.h"
#include "util/argv.h"
#include "util/iostuff.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/strutil.h"

#define INET_BACKLOG	4096	/* the kernel caps it at somaxconn */

/* family_ok - may sockets of this family be made? */
static bool family_ok(int family)
{
	bool v4 = false, v6 = false;
	char *copy = xstrdup(var_inet_protocols ? var_inet_protocols : "all");
	char *cp = copy, *word;

	while ((word = str_token(&cp, ", \t\r\n")) != NULL) {
		if (strcasecmp(word, "all") == 0) {
			int fd = socket(AF_INET6, SOCK_STREAM, 0);

			v4 = true;
			if (fd >= 0) {
				v6 = true;
				close(fd);
			}
		} else if (strcasecmp(word, "ipv4") == 0) {
			v4 = true;
		} else if (strcasecmp(word, "ipv6") == 0) {
			v6 = true;
		}
	}
	free(copy);
	return family == AF_INET ? v4 : family == AF_INET6 ? v6 : false;
}

/* bind_one - one listening socket, or -1 with errno */
static int bind_one(const struct sockaddr *sa, socklen_t len)
{
	int fd, on = 1, saved;

	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	/* [::] means IPv6 only; 0.0.0.0 has its own socket. */
	if (sa->sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, sa, len) < 0 || listen(fd, INET_BACKLOG) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* add_fd - append to the result */
static void add_fd(int **fds, size_t *count, int fd)
{
	*fds = xreallocarray(*fds, *count + 1, sizeof(**fds));
	(*fds)[(*count)++] = fd;
}

/* bind_host - every allowed address of host (NULL: the wildcards) */
static int bind_host(const char *service, const char *host, const char *port,
		     int **fds, size_t *count)
{
	struct addrinfo hints, *res, *ai;
	size_t before = *count;
	char text[NI_MAXHOST];
	int rc, fd;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (host == NULL ? AI_PASSIVE : 0);
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		msg_warn("master.cf: service %s: host \"%s\": %s", service, host ? host : "*",
			 gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if (!family_ok(ai->ai_family))
			continue;
		if ((fd = bind_one(ai->ai_addr, ai->ai_addrlen)) < 0) {
			int saved = errno;

			if (getnameinfo(ai->ai_addr, ai->ai_addrlen, text, sizeof(text), NULL, 0,
					NI_NUMERICHOST) != 0)
				snprintf(text, sizeof(text), "?");
			msg_warn("master.cf: service %s: bind %s port %s: %s", service, text, port,
				 strerror(saved));
			freeaddrinfo(res);
			return -1;
		}
		add_fd(fds, count, fd);
	}
	freeaddrinfo(res);
	if (*count == before) {
		msg_warn("master.cf: service %s: host \"%s\" has no address of the families "
			 "inet_protocols allows (%s)", service, host ? host : "*",
			 var_inet_protocols);
		return -1;
	}
	return 0;
}

/* split_service - "[host]:port", "host:port" or "port" */
static int split_service(const char *service, char **host_r, char **port_r)
{
	const char *colon;

	*host_r = NULL;
	if (service[0] == '[') {
		const char *end = strchr(service, ']');

		if (end == NULL || end[1] != ':')
			return -1;
		*host_r = xstrndup(service + 1, (size_t)(end - service - 1));
		colon = end + 1;
	} else if ((colon = strrchr(service, ':')) != NULL) {
		if (strchr(service, ':') != colon)
			return -1;	/* an IPv6 address needs brackets */
		*host_r = xstrndup(service, (size_t)(colon - service));
	}
	*port_r = xstrdup(colon ? colon + 1 : service);
	if (**port_r == 0 || (*host_r && **host_r == 0)) {
		free(*host_r);
		free(*port_r);
		return -1;
	}
	return 0;
}

/* master_inet_listen - all sockets of an inet service; 0 or -1 (warned) */
int master_inet_listen(const char *service, int **fds_r, size_t *count_r)
{
	char *host, *port, *copy, *cp, *word, numeric[16];
	struct servent *se;
	int *fds = NULL;
	size_t count = 0;
	int rc = 0;

	if (split_service(service, &host, &port) < 0) {
		msg_warn("master.cf: inet service \"%s\": expected port, host:port or "
			 "[address]:port", service);
		return -1;
	}
	if (!str_is_digits(port)) {
		if ((se = getservbyname(port, "tcp")) == NULL) {
			msg_warn("master.cf: inet service \"%s\": unknown port \"%s\"", service, port);
			free(host);
			free(port);
			return -1;
		}
		snprintf(numeric, sizeof(numeric), "%d", ntohs((uint16_t)se->s_port));
		free(port);
		port = xstrdup(numeric);
	}

	if (host != NULL && strcmp(host, "*") != 0) {
		rc = bind_host(service, host, port, &fds, &count);
	} else {
		copy = xstrdup(var_inet_interfaces);
		cp = copy;
		while (rc == 0 && (word = str_token(&cp, ", \t\r\n")) != NULL) {
			if (strcasecmp(word, "all") == 0) {
				rc = bind_host(service, NULL, port, &fds, &count);
			} else if (strcasecmp(word, "loopback-only") == 0) {
				if (family_ok(AF_INET))
					rc = bind_host(service, "127.0.0.1", port, &fds, &count);
				if (rc == 0 && family_ok(AF_INET6))
					rc = bind_host(service, "::1", port, &fds, &count);
			} else {
				size_t len = strlen(word);

				if (word[0] == '[' && len > 2 && word[len - 1] == ']') {
					word[len - 1] = 0;
					word++;
				}
				rc = bind_host(service, word, port, &fds, &count);
			}
		}
		free(copy);
	}
	free(host);
	free(port);
	/* Children get them on fds 3 and 5..19; the maillog sits at 20 or above. */
	if (rc == 0 && count > 16) {
		msg_warn("master.cf: service %s: more than 16 listening addresses", service);
		rc = -1;
	}
	if (rc < 0 || count == 0) {
		if (rc == 0)
			msg_warn("master.cf: service %s: inet_interfaces lists no address", service);
		for (size_t i = 0; i < count; i++)
			close(fds[i]);
		free(fds);
		return -1;
	}
	*fds_r = fds;
	*count_r = count;
	return 0;
}
