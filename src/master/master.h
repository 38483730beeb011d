/*
 * master - the supervisor's private interface.
 */
#ifndef SLUICE_MASTER_H
#define SLUICE_MASTER_H

#include <stdbool.h>
#include <sys/types.h>

struct master_ent;

/* One running child. */
struct master_proc {
	pid_t pid;
	struct master_serv *serv;
	bool avail;			/* waiting for a client */
	bool old_generation;		/* started before the last reload */
	bool started;			/* sent a status message: start-up went well */
	struct master_proc *next;
};

/* One master.cf service. */
struct master_serv {
	char *name;
	char *type;			/* unix or fifo */
	char *command;			/* program name */
	char *path;			/* full path of the program */
	char **argv;			/* argv for exec */
	long maxproc;			/* 0 = unlimited */
	int wakeup;			/* seconds, 0 = none */
	bool wakeup_if_used;
	bool unpriv;
	int listen_fd;			/* endpoint, kept open by master */
	int *more_fds;			/* inet: further listening sockets */
	size_t more_count;
	int status_fd[2];		/* children write [1], master reads [0] */
	char *endpoint;			/* path of the socket or FIFO */
	long total;			/* running processes */
	long avail;			/* of which idle */
	bool used;			/* a process was ever started */
	bool listening;			/* read interest on listen_fd */
	double throttle_until;		/* no new process before this (mono) */
	int unstarted_kills;		/* SIGKILLs before start-up, in a row */
	bool marked;			/* seen in the current master.cf (reload) */
	struct master_serv *next;
};

/* master_service.c */
extern struct master_serv *master_services;
void master_services_config(bool reload);
void master_services_stop(void);
void master_service_check(struct master_serv *s);
void master_child_exited(pid_t pid, int status);
void master_children_signal(int sig, bool all);
long master_children_count(void);

/* master_inet.c */
int master_inet_listen(const char *service, int **fds_r, size_t *count_r);

/* master_wakeup.c */
void master_wakeup_init(struct master_serv *s);
void master_wakeup_cancel(struct master_serv *s);
int master_trigger(struct master_serv *s, const char *bytes);

/* master_notify.c: the service manager (systemd Type=notify), if any */
void master_notify_init(void);
void master_notify_ready(void);
void master_notify_reloading(void);
void master_notify_stopping(void);

/* master.c */
extern char *master_config_dir;

#endif
