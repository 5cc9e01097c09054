// The forms in which pod uids, container ids and addresses are compared: the kubelet, the
// runtime, systemd and the API server each write them a little differently.

/** Uids compare without separators (systemd writes `_`, and static pods' config hashes have none). */
export function normalizeUid(uid: string): string {
  return uid.toLowerCase().replace(/[-_]/g, '');
}

/** A uid as the API server writes it (8-4-4-4-12), for messages; other forms are left as they are. */
export function displayUid(uid: string): string {
  const m = /^([0-9a-f]{8})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{4})([0-9a-f]{12})$/.exec(normalizeUid(uid));
  return m ? m.slice(1).join('-') : uid;
}

/** Container ids compare without the runtime's `containerd://` style prefix, in lower case. */
export function normalizeContainerId(id: string): string {
  return id.replace(/^[a-z0-9-]+:\/\//, '').toLowerCase();
}

/** Canonical text of an address (IPv6 compressed, lower case), or undefined when it is none. */
export function normalizeIp(ip: string): string | undefined {
  const s = ip.trim();
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) return s.split('.').every((o) => Number(o) <= 255) ? s : undefined;
  if (!s.includes(':')) return undefined;
  try {
    return new URL(`http://[${s}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}
