/*
 * swap_shim - an LD_PRELOAD library that plays a compromised mail_owner
 * process racing master (tests/integration/test_hardening.py).
 *
 * Right after a successful bind() of a UNIX socket or mkfifo() whose path
 * contains $SWAP_SHIM_MATCH, it replaces the new endpoint with a symbolic
 * link to $SWAP_SHIM_CANARY, a file mail_owner could not touch, and appends
 * the path to $SWAP_SHIM_LOG (so the test knows the swap happened).  Master
 * must then not change the canary (chmod/chown/open through the link).
 *
 * The swap runs with the identity the process has at that moment; the
 * endpoint folders belong to mail_owner, so mail_owner could do the same.
 * The settings are read when the library is loaded: master clears its
 * environment (import_environment) before it makes the endpoints.
 * Test-only code: never linked into a program.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

int bind(int fd, const struct sockaddr *sa, socklen_t len);
int mkfifo(const char *path, mode_t mode);

static char *match, *canary, *log_path;

/* shim_init - take the settings while the environment still has them */
__attribute__((constructor)) static void shim_init(void)
{
	const char *v;

	if ((v = getenv("SWAP_SHIM_MATCH")) != NULL)
		match = strdup(v);
	if ((v = getenv("SWAP_SHIM_CANARY")) != NULL)
		canary = strdup(v);
	if ((v = getenv("SWAP_SHIM_LOG")) != NULL)
		log_path = strdup(v);
}

/* swap - put a link to the canary where path was */
static void swap(const char *path)
{
	char line[512];
	int fd, n;

	if (match == NULL || canary == NULL || strstr(path, match) == NULL)
		return;
	if (unlink(path) < 0 || symlink(canary, path) < 0)
		n = snprintf(line, sizeof(line), "failed %s\n", path);
	else
		n = snprintf(line, sizeof(line), "swapped %s\n", path);
	if (log_path && (fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666)) >= 0) {
		if (write(fd, line, (size_t)n) < 0)
			n = 0;
		close(fd);
	}
}

/* bind - the real bind, then the swap */
int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	int (*real)(int, const struct sockaddr *, socklen_t) =
		(int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
	int rc = real(fd, sa, len);

	if (rc == 0 && sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;

		if (sun->sun_path[0])
			swap(sun->sun_path);
	}
	return rc;
}

/* mkfifo - the real mkfifo, then the swap */
int mkfifo(const char *path, mode_t mode)
{
	int (*real)(const char *, mode_t) =
		(int (*)(const char *, mode_t))dlsym(RTLD_NEXT, "mkfifo");
	int rc = real(path, mode);

	if (rc == 0)
		swap(path);
	return rc;
}
