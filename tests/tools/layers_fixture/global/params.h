/* fixture: global reaching into a program (must be reported) */
#include "util/ok.h"
#include "qmgr/qmgr.h"
