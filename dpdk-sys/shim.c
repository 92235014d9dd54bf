#include "wrapper.h"

int vxgw_rte_errno(void) { return rte_errno; }
