/*
 * iostuff - descriptor helpers: time-limited I/O, sockets, durable renames.
 *
 * Return convention: 0 (or a byte count) on success, -1 on failure with
 * errno set (ETIMEDOUT for an expired time limit).  Time limits are in
 * milliseconds; a negative limit waits forever.
 */
#ifndef SLUICE_IOSTUFF_H
#define SLUICE_IOSTUFF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* fd_wait - wait until fd is readable (write=false) or writable. */
int fd_wait(int fd, bool write, int timeout_ms);
/* read_timeout - one read() after waiting; 0 means EOF. */
ssize_t read_timeout(int fd, void *buf, size_t n, int timeout_ms);
/* write_all_timeout - write all n bytes, each wait limited by timeout_ms. */
int write_all_timeout(int fd, const void *buf, size_t n, int timeout_ms);
/* set_nonblock - turn O_NONBLOCK on or off. */
int set_nonblock(int fd, bool on);
/* set_cloexec - turn FD_CLOEXEC on or off. */
int set_cloexec(int fd, bool on);
/* unix_listen - bind and listen on a UNIX stream socket path (replaces a stale one);
 * the socket gets mode through the umask at bind time (the umask is restored). */
int unix_listen(const char *path, int backlog, mode_t mode);
/* unix_connect - connect to a UNIX stream socket; nonblocking leaves
 * connect in progress (EINPROGRESS is success). Returns fd or -1; EAGAIN
 * (non-blocking) means the server's listen queue is full. */
int unix_connect(const char *path, bool nonblocking);
/* fsync_dir - fsync a directory so that a rename or create in it is durable. */
int fsync_dir(const char *dir);
/* fsync_parent - fsync the directory that holds path. */
int fsync_parent(const char *path);
/* mkdir_p - create a folder and its missing parents (existing is fine). */
int mkdir_p(const char *path, mode_t mode);
/* wait_pid_until - reap child pid before deadline (a mono_time()); 0 when
 * reaped (*status set), -1 with errno (ETIMEDOUT: still running). */
int wait_pid_until(pid_t pid, int *status, double deadline);
/* mono_time - monotonic clock in seconds. */
double mono_time(void);
/* wall_time - real time in seconds with microseconds. */
double wall_time(void);

#endif
