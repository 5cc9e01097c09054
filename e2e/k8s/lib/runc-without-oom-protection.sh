#!/bin/sh
# runc for a machine whose root lacks CAP_SYS_RESOURCE (this sandbox's VMs): there a process may
# not lower its oom_score_adj, so the negative scores kubelet asks for (-998 for pod sandboxes,
# -997 for Guaranteed pods) make runc fail every pod ("can't get final child's PID from pipe").
# containerd calls this instead of runc only on such machines (lib/config.sh); a negative score in
# the bundle is raised to 0, everything else is runc's.
prev=""
for a in "$@"; do
  if [ "$prev" = "--bundle" ] && [ -f "$a/config.json" ]; then
    sed -i 's/"oomScoreAdj":-[0-9]*/"oomScoreAdj":0/' "$a/config.json"
  fi
  prev=$a
done
exec runc "$@"
