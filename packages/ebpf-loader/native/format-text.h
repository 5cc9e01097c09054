// The text writers of the record formatter (formatter.cc): decimal numbers, JSON strings and
// base64, each writing exactly what JavaScript writes (String(n), JSON.stringify, Buffer's
// base64), into a buffer whose room the caller has made sure of.
#pragma once
#include <string.h>

#include <cstddef>
#include <cstdint>

namespace rt {

// Copies of known small sizes compile to a few vector moves; the output keeps kSlack bytes
// free past any room() check, and every source has kSlack readable bytes past its end.
constexpr size_t kSlack = 32;

inline void CopySmall(uint8_t* dst, const uint8_t* src, size_t n) {
  for (size_t k = 0; k < n; k += 16) memcpy(dst + k, src + k, 16);
}

// Decimal digits. Divisions by constants are multiplications (magic numbers checked by the
// Granlund-Montgomery bound): GCC emits a 64-bit div, tens of cycles, for the plain expression.
// A 64-bit value is cut into 8-digit pieces written with 32-bit arithmetic.
const char kPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

inline uint32_t Div100(uint32_t v) { return static_cast<uint32_t>((static_cast<uint64_t>(v) * 0x51EB851Full) >> 37); }
inline uint32_t Div10k(uint32_t v) { return static_cast<uint32_t>((static_cast<uint64_t>(v) * 0xD1B71759ull) >> 45); }
inline uint64_t Div1e8(uint64_t v) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(v) * 0xABCC77118461CEFDull) >> 90);
}

inline void Four(uint8_t* o, uint32_t v) {
  const uint32_t a = Div100(v);
  memcpy(o, kPairs + 2 * a, 2);
  memcpy(o + 2, kPairs + 2 * (v - 100 * a), 2);
}

// Exactly 8 digits, leading zeros included: v < 10^8.
inline void Eight(uint8_t* o, uint32_t v) {
  const uint32_t a = Div10k(v);
  Four(o, a);
  Four(o + 4, v - 10000 * a);
}

// v < 10^8, no leading zeros.
inline uint8_t* Small(uint8_t* o, uint32_t v) {
  const size_t n = v < 10        ? 1
                   : v < 100     ? 2
                   : v < 1000    ? 3
                   : v < 10000   ? 4
                   : v < 100000  ? 5
                   : v < 1000000 ? 6
                   : v < 10000000 ? 7
                                  : 8;
  uint8_t* p = o + n;
  while (v >= 100) {
    const uint32_t q = Div100(v);
    p -= 2;
    memcpy(p, kPairs + 2 * (v - 100 * q), 2);
    v = q;
  }
  if (v >= 10)
    memcpy(p - 2, kPairs + 2 * v, 2);
  else
    p[-1] = static_cast<uint8_t>('0' + v);
  return o + n;
}

inline uint8_t* Decimal(uint8_t* o, uint64_t v) {
  if (v < 100000000) return Small(o, static_cast<uint32_t>(v));
  const uint64_t hi = Div1e8(v);
  const uint32_t lo = static_cast<uint32_t>(v - hi * 100000000);
  if (hi < 100000000) {
    o = Small(o, static_cast<uint32_t>(hi));
  } else {
    const uint64_t top = Div1e8(hi);  // < 1845
    o = Small(o, static_cast<uint32_t>(top));
    Eight(o, static_cast<uint32_t>(hi - top * 100000000));
    o += 8;
  }
  Eight(o, lo);
  return o + 8;
}

// A JSON string of the bytes up to the first NUL (at most max), as JSON.stringify writes it;
// nullptr for a byte that is not ASCII (JS decodes UTF-8, and invalid bytes, its own way).
inline uint8_t* JsonString(uint8_t* o, const uint8_t* s, uint32_t max) {
  static const char kShort[] = "btn\0fr";
  static const char kHex[] = "0123456789abcdef";
  *o++ = '"';
  for (uint32_t k = 0; k < max; k++) {
    const uint8_t c = s[k];
    if (c == 0) break;
    if (c >= 0x80) return nullptr;
    if (c == '"' || c == '\\') {
      *o++ = '\\';
      *o++ = c;
    } else if (c < 0x20) {
      // The short escapes, else \u00XX in lower case.
      *o++ = '\\';
      if (c >= 8 && c <= 13 && c != 11) {
        *o++ = kShort[c - 8];
      } else {
        memcpy(o, "u00", 3);
        o[3] = kHex[c >> 4];
        o[4] = kHex[c & 15];
        o += 5;
      }
    } else {
      *o++ = c;
    }
  }
  *o++ = '"';
  return o;
}

// Base64 with padding (Buffer's 'base64').
inline uint8_t* Base64(uint8_t* o, const uint8_t* s, size_t n) {
  static const char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t k = 0;
  for (; k + 3 <= n; k += 3, o += 4) {
    const uint32_t w = (s[k] << 16) | (s[k + 1] << 8) | s[k + 2];
    o[0] = kChars[w >> 18];
    o[1] = kChars[(w >> 12) & 63];
    o[2] = kChars[(w >> 6) & 63];
    o[3] = kChars[w & 63];
  }
  if (n - k == 1) {
    const uint32_t w = s[k] << 16;
    o[0] = kChars[w >> 18];
    o[1] = kChars[(w >> 12) & 63];
    o[2] = '=';
    o[3] = '=';
    o += 4;
  } else if (n - k == 2) {
    const uint32_t w = (s[k] << 16) | (s[k + 1] << 8);
    o[0] = kChars[w >> 18];
    o[1] = kChars[(w >> 12) & 63];
    o[2] = kChars[(w >> 6) & 63];
    o[3] = '=';
    o += 4;
  }
  return o;
}

}  // namespace rt
