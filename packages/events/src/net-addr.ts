// Text forms of link and network addresses, matching what tcpdump (inet_ntop) prints so that
// our packet lines can be compared with tcpdump output.

const hex2 = (b: number): string => b.toString(16).padStart(2, '0');

/** `aa:bb:cc:dd:ee:ff` from 6 bytes at `off`. */
export function formatMac(b: Uint8Array, off = 0): string {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push(hex2(b[off + i] ?? 0));
  return parts.join(':');
}

/** Dotted quad from 4 bytes at `off`. */
export function formatIpv4(b: Uint8Array, off = 0): string {
  return `${b[off] ?? 0}.${b[off + 1] ?? 0}.${b[off + 2] ?? 0}.${b[off + 3] ?? 0}`;
}

/**
 * RFC 5952 text of 16 bytes at `off`: lower-case hex, the longest run (2 groups or more) of zero
 * groups shortened to `::` (the first one on a tie), and the embedded IPv4 forms `::a.b.c.d` and
 * `::ffff:a.b.c.d` as inet_ntop writes them.
 */
export function formatIpv6(b: Uint8Array, off = 0): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(((b[off + 2 * i] ?? 0) << 8) | (b[off + 2 * i + 1] ?? 0));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestStart = -1;
  const embeddedV4 = bestStart === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff));
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += '::';
      i += bestLen - 1;
      continue;
    }
    if (embeddedV4 && i === 6) {
      out += (out.endsWith(':') ? '' : ':') + formatIpv4(b, off + 12);
      break;
    }
    if (out !== '' && !out.endsWith(':')) out += ':';
    out += (words[i] ?? 0).toString(16);
  }
  return out;
}
