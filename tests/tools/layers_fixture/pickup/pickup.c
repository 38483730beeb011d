/* fixture: one program including another (must be reported) */
#include "global/params.h"
#include "qmgr.h"
