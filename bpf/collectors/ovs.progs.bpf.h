/* The ovs collector's programs: the kernel datapath's side and ovs-vswitchd's (USDT). */
#include "collectors/ovs/datapath.bpf.h"
#include "collectors/ovs/lookup.bpf.h"
#include "collectors/ovs/vswitchd.bpf.h"
