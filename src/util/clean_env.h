/*
 * clean_env - reduce the process environment to a list of names
 * (Postfix's import_environment semantics).
 */
#ifndef SLUICE_CLEAN_ENV_H
#define SLUICE_CLEAN_ENV_H

/*
 * clean_env - keep only what keep[] (NULL-terminated) names and drop every
 * other variable.  An entry "NAME" keeps NAME with its current value when it
 * is set; an entry "NAME=VALUE" sets NAME to VALUE whether or not it was
 * set.  When a name appears more than once, the last entry wins.  Entries
 * that are not a valid name ("", "=x") are skipped.  Fatal only when memory
 * runs out.
 */
void clean_env(char *const *keep);

#endif
