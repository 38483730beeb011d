/* fixture: util reaching up into global (must be reported) */
#include "util/ok.h"
#include "global/params.h"
int x(void) { return var_bad; }
