/*
 * qmgr_conf - the scheduler's settings from the configuration in use
 * (main.cf, master.cf): what qmgr runs with, and what "sluice simulate"
 * simulates with.  Reads the var_* variables and transport_param_*() of
 * global/mail_conf.h, so mail_conf_read() comes first.
 */
#ifndef SLUICE_QMGR_CONF_H
#define SLUICE_QMGR_CONF_H

#include "sched.h"

/* qmgr_conf_sched - the scheduler's global settings */
void qmgr_conf_sched(struct sched_conf *conf);
/* qmgr_conf_transport - per-transport settings (<transport>_ overrides,
 * master.cf -o options); a bad feedback value warns and means 1. */
void qmgr_conf_transport(const char *transport, struct sched_transport_conf *tc);
/* qmgr_conf_process_limit - master.cf maxproc of the transport's unix
 * service ("-": default_process_limit); 0 for no limit; -1 no service. */
long qmgr_conf_process_limit(const char *transport);

#endif
