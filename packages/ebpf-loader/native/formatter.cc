// Record formatter: turns fixed-layout records (ring buffer records, read in place) into text
// lines by running a small program of ops that TypeScript compiles (what to write, from which
// offsets, under which conditions). It knows no record layout and no output format: both are
// in the program. A record the program cannot write exactly (a field out of its record, text
// that is not plain ASCII, a value missing from a table) is handed back to JS, unwritten.
//
// format() writes records [from, to) into `out` from outPos, one line each ending in '\n',
// and the end of each line into `ends`. It stops at the first record it cannot finish and
// says why in the state array: [next record, outPos, ends used, table, key].
#include <napi.h>
#include <string.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "addon.h"
#include "errors.h"

namespace rt {

namespace {

// The ops and their arguments (all u32). Sizes are 1, 2, 4 or 8 bytes; offsets are from the
// record's start; jumps are forward, counted in u32s from the end of the jump op.
enum Op : uint32_t {
  kLit = 1,         // idx: literal bytes
  kNum = 2,         // size off shift mask: decimal of (field >> shift) & mask (mask 0: all bits)
  kBool = 3,        // size off shift mask: true/false of (field >> shift) & mask
  kStr = 4,         // off max: JSON string of NUL-terminated bytes (at most max)
  kBase64 = 5,      // lenSize lenOff dataOff max: base64 of len bytes at dataOff (len <= max)
  kTable = 6,       // table size off: the table's bytes for the field's value
  kJumpZero = 7,    // size off mask n: skip n when (field & mask) == 0
  kJumpNonZero = 8, // size off mask n: skip n when (field & mask) != 0
  kJump = 9,        // n
  kJsIfAny = 10,    // size off mask: JS writes the record when (field & mask) != 0
  kJsIfNot = 11,    // size off value: JS writes the record when field != value
  kJsIfShort = 12,  // n: JS writes the record when it has fewer than n bytes
};

// Arguments of each op (index: the op).
constexpr uint32_t kArgs[] = {0, 1, 4, 4, 2, 4, 3, 4, 4, 1, 3, 3, 1};
constexpr uint32_t kOpCount = sizeof(kArgs) / sizeof(kArgs[0]);

enum Status : uint32_t { kDone = 0, kFull = 1, kFallback = 2, kNeed = 3 };

enum State : uint32_t { kNext = 0, kOutPos = 1, kEnds = 2, kNeedTable = 3, kNeedKey = 4, kStateSize = 5 };

const char kBase64Chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

inline bool SizeOk(uint32_t s) { return s == 1 || s == 2 || s == 4 || s == 8; }

// A field as the kernel wrote it: in the host's byte order (what JS reads as little-endian
// on the little-endian machines retrace runs on).
inline uint64_t Load(const uint8_t* p, uint32_t size) {
  switch (size) {
    case 1:
      return p[0];
    case 2: {
      uint16_t v;
      memcpy(&v, p, 2);
      return v;
    }
    case 4: {
      uint32_t v;
      memcpy(&v, p, 4);
      return v;
    }
    default: {
      uint64_t v;
      memcpy(&v, p, 8);
      return v;
    }
  }
}

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

template <typename T>
bool TypedArg(const Napi::CallbackInfo& info, size_t i, T* out, const char* name) {
  if (info.Length() <= i || !info[i].IsTypedArray()) {
    ThrowType(info.Env(), std::string(name) + " must be a typed array");
    return false;
  }
  *out = info[i].As<T>();
  return true;
}

}  // namespace

class RecordFormatter : public Napi::ObjectWrap<RecordFormatter> {
 public:
  // (ops: Uint32Array, literals: Uint8Array, literalRanges: Uint32Array (start, length pairs),
  //  tables: number, state: Uint32Array)
  explicit RecordFormatter(const Napi::CallbackInfo& info) : Napi::ObjectWrap<RecordFormatter>(info) {
    Napi::Uint32Array ops, ranges, state;
    Napi::Uint8Array lits;
    uint32_t tables;
    if (!TypedArg(info, 0, &ops, "ops") || !TypedArg(info, 1, &lits, "literals") ||
        !TypedArg(info, 2, &ranges, "literal ranges") || !ArgU32(info, 3, &tables, "tables") ||
        !TypedArg(info, 4, &state, "state"))
      return;
    if (state.ElementLength() < kStateSize) {
      ThrowType(info.Env(), "the state array needs 5 entries");
      return;
    }
    ops_.assign(ops.Data(), ops.Data() + ops.ElementLength());
    litBytes_.assign(lits.Data(), lits.Data() + lits.ByteLength());
    litBytes_.resize(litBytes_.size() + kSlack);
    for (size_t i = 0; i + 1 < ranges.ElementLength(); i += 2) {
      uint32_t start = ranges[i], len = ranges[i + 1];
      if (static_cast<size_t>(start) + len > lits.ByteLength()) {
        ThrowType(info.Env(), "a literal lies outside the literal bytes");
        return;
      }
      literals_.push_back({start, len});
    }
    tables_.resize(tables);
    std::string bad = Validate();
    if (!bad.empty()) {
      ThrowType(info.Env(), "record formatter program: " + bad);
      return;
    }
    state_ = Napi::Persistent(state);
  }

 private:
  // Every op known, its arguments in the program, sizes valid, literals and tables existing,
  // jumps landing on an op (or the end): the loop in Format() then trusts the program.
  std::string Validate() const {
    std::vector<bool> starts(ops_.size() + 1, false);
    std::vector<size_t> targets;
    size_t pc = 0;
    while (pc < ops_.size()) {
      starts[pc] = true;
      uint32_t op = ops_[pc];
      if (op == 0 || op >= kOpCount) return "unknown op " + std::to_string(op) + " at " + std::to_string(pc);
      if (pc + 1 + kArgs[op] > ops_.size()) return "op at " + std::to_string(pc) + " lacks arguments";
      const uint32_t* a = &ops_[pc + 1];
      pc += 1 + kArgs[op];
      switch (op) {
        case kLit:
          if (a[0] >= literals_.size()) return "no literal " + std::to_string(a[0]);
          break;
        case kNum:
        case kBool:
          if (!SizeOk(a[0]) || (a[0] == 8 && (a[2] || a[3])) || a[2] > 31) return "bad number field";
          break;
        case kStr:
          if (a[1] == 0 || a[1] > 4096) return "bad string length";
          break;
        case kBase64:
          if (!SizeOk(a[0]) || a[3] > (1u << 20)) return "bad base64 field";
          break;
        case kTable:
          if (a[0] >= tables_.size() || !SizeOk(a[1]) || a[1] == 8) return "bad table op";
          break;
        case kJumpZero:
        case kJumpNonZero:
          if (!SizeOk(a[0])) return "bad jump field";
          targets.push_back(pc + a[3]);
          break;
        case kJump:
          targets.push_back(pc + a[0]);
          break;
        case kJsIfAny:
        case kJsIfNot:
          if (!SizeOk(a[0])) return "bad check field";
          break;
        default:
          break;
      }
    }
    starts[ops_.size()] = true;
    for (size_t t : targets)
      if (t > ops_.size() || !starts[t]) return "a jump lands inside an op";
    return "";
  }

  Napi::Value SetEntry(const Napi::CallbackInfo& info) {
    uint32_t table, key;
    Napi::Uint8Array bytes;
    if (!ArgU32(info, 0, &table, "table") || !ArgU32(info, 1, &key, "key") || !TypedArg(info, 2, &bytes, "bytes"))
      return info.Env().Undefined();
    if (table >= tables_.size()) return ThrowType(info.Env(), "no table " + std::to_string(table));
    std::string& e = tables_[table][key];
    e.assign(reinterpret_cast<const char*>(bytes.Data()), bytes.ByteLength());
    e.append(kSlack, '\0');  // read past by CopySmall
    return info.Env().Undefined();
  }

  // (data: Uint8Array, offsets: Uint32Array (offset, length pairs), from, to, out: Uint8Array,
  //  outPos, ends: Uint32Array, endsUsed) -> status
  Napi::Value Format(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Uint8Array data, out;
    Napi::Uint32Array offsets, ends;
    uint32_t from, to, outPos, endsUsed;
    if (!TypedArg(info, 0, &data, "data") || !TypedArg(info, 1, &offsets, "offsets") ||
        !ArgU32(info, 2, &from, "from") || !ArgU32(info, 3, &to, "to") || !TypedArg(info, 4, &out, "out") ||
        !ArgU32(info, 5, &outPos, "outPos") || !TypedArg(info, 6, &ends, "ends") ||
        !ArgU32(info, 7, &endsUsed, "endsUsed"))
      return env.Undefined();
    if (static_cast<size_t>(to) * 2 > offsets.ElementLength() || from > to || outPos > out.ByteLength() ||
        endsUsed > ends.ElementLength())
      return ThrowType(env, "format: arguments out of range");
    Napi::Uint32Array st = state_.Value();
    uint32_t* state = st.Data();
    const uint8_t* base = data.Data();
    const size_t dataLen = data.ByteLength();
    const uint32_t* offs = offsets.Data();
    uint8_t* o = out.Data();
    const size_t outLen = out.ByteLength();
    uint32_t* endArr = ends.Data();
    const size_t endsCap = ends.ElementLength();
    Status status = kDone;
    uint32_t i = from;
    for (; i < to; i++) {
      if (endsUsed >= endsCap) {
        status = kFull;
        break;
      }
      const size_t at = offs[2 * i], len = offs[2 * i + 1];
      if (at > dataLen || len > dataLen - at) {
        status = kFallback;
        break;
      }
      size_t pos = outPos;
      status = Run(base + at, len, o, outLen, &pos, state);
      if (status != kDone) break;
      o[pos++] = '\n';
      outPos = static_cast<uint32_t>(pos);
      endArr[endsUsed++] = outPos;
    }
    state[kNext] = i;
    state[kOutPos] = outPos;
    state[kEnds] = endsUsed;
    return Napi::Number::New(env, status);
  }

  // One record into out[*pos..]; *pos moves only when the whole line (and its '\n') fits.
  Status Run(const uint8_t* r, size_t len, uint8_t* out, size_t outLen, size_t* posInOut, uint32_t* state) const {
    size_t pos = *posInOut;
    // Room for n more bytes and the line's '\n'.
    auto room = [&](size_t n) { return pos + n + 1 + kSlack <= outLen; };
    auto field = [&](uint32_t size, uint32_t off, uint64_t* v) {
      if (static_cast<size_t>(off) + size > len) return false;
      *v = Load(r + off, size);
      return true;
    };
    const uint32_t* p = ops_.data();
    const uint32_t* end = p + ops_.size();
    uint64_t v = 0;
    while (p < end) {
      const uint32_t op = *p;
      const uint32_t* a = p + 1;
      p += 1 + kArgs[op];
      switch (op) {
        case kLit: {
          const Literal& l = literals_[a[0]];
          if (!room(l.len)) return kFull;
          CopySmall(out + pos, litBytes_.data() + l.start, l.len);
          pos += l.len;
          break;
        }
        case kNum:
        case kBool: {
          if (!field(a[0], a[1], &v)) return kFallback;
          v >>= a[2];
          if (a[3]) v &= a[3];
          if (!room(20)) return kFull;
          if (op == kNum) {
            pos = Decimal(out + pos, v) - out;
          } else {
            const char* t = v ? "true" : "false";
            size_t n = v ? 4 : 5;
            memcpy(out + pos, t, n);
            pos += n;
          }
          break;
        }
        case kStr: {
          const uint32_t off = a[0], max = a[1];
          if (static_cast<size_t>(off) + max > len) return kFallback;
          if (!room(6 * static_cast<size_t>(max) + 2)) return kFull;
          out[pos++] = '"';
          for (uint32_t k = 0; k < max; k++) {
            const uint8_t c = r[off + k];
            if (c == 0) break;
            if (c >= 0x80) return kFallback;  // UTF-8 (or not): JS decodes it as JS does
            if (c == '"' || c == '\\') {
              out[pos++] = '\\';
              out[pos++] = c;
            } else if (c < 0x20) {
              // JSON.stringify's escapes: the short ones, else \u00XX in lower case
              static const char kShort[] = "btn\0fr";
              out[pos++] = '\\';
              if (c >= 8 && c <= 13 && c != 11) {
                out[pos++] = kShort[c - 8];
              } else {
                static const char kHex[] = "0123456789abcdef";
                memcpy(out + pos, "u00", 3);
                pos += 3;
                out[pos++] = kHex[c >> 4];
                out[pos++] = kHex[c & 15];
              }
            } else {
              out[pos++] = c;
            }
          }
          out[pos++] = '"';
          break;
        }
        case kBase64: {
          if (!field(a[0], a[1], &v)) return kFallback;
          const uint32_t dataOff = a[2], max = a[3];
          if (v > max || dataOff + v > len) return kFallback;
          const size_t n = static_cast<size_t>(v);
          if (!room((n + 2) / 3 * 4)) return kFull;
          const uint8_t* s = r + dataOff;
          size_t k = 0;
          for (; k + 3 <= n; k += 3) {
            const uint32_t w = (s[k] << 16) | (s[k + 1] << 8) | s[k + 2];
            out[pos++] = kBase64Chars[w >> 18];
            out[pos++] = kBase64Chars[(w >> 12) & 63];
            out[pos++] = kBase64Chars[(w >> 6) & 63];
            out[pos++] = kBase64Chars[w & 63];
          }
          if (n - k == 1) {
            const uint32_t w = s[k] << 16;
            out[pos++] = kBase64Chars[w >> 18];
            out[pos++] = kBase64Chars[(w >> 12) & 63];
            out[pos++] = '=';
            out[pos++] = '=';
          } else if (n - k == 2) {
            const uint32_t w = (s[k] << 16) | (s[k + 1] << 8);
            out[pos++] = kBase64Chars[w >> 18];
            out[pos++] = kBase64Chars[(w >> 12) & 63];
            out[pos++] = kBase64Chars[(w >> 6) & 63];
            out[pos++] = '=';
          }
          break;
        }
        case kTable: {
          if (!field(a[1], a[2], &v)) return kFallback;
          const auto& t = tables_[a[0]];
          auto it = t.find(static_cast<uint32_t>(v));
          if (it == t.end()) {
            state[kNeedTable] = a[0];
            state[kNeedKey] = static_cast<uint32_t>(v);
            return kNeed;
          }
          const size_t n = it->second.size() - kSlack;
          if (!room(n)) return kFull;
          CopySmall(out + pos, reinterpret_cast<const uint8_t*>(it->second.data()), n);
          pos += n;
          break;
        }
        case kJumpZero:
        case kJumpNonZero: {
          if (!field(a[0], a[1], &v)) return kFallback;
          const bool zero = (v & a[2]) == 0;
          if (zero == (op == kJumpZero)) p += a[3];
          break;
        }
        case kJump:
          p += a[0];
          break;
        case kJsIfAny:
          if (!field(a[0], a[1], &v)) return kFallback;
          if (v & a[2]) return kFallback;
          break;
        case kJsIfNot:
          if (!field(a[0], a[1], &v)) return kFallback;
          if (v != a[2]) return kFallback;
          break;
        case kJsIfShort:
          if (len < a[0]) return kFallback;
          break;
        default:
          return kFallback;
      }
    }
    if (!room(0)) return kFull;
    *posInOut = pos;
    return kDone;
  }

  friend void InitFormatter(Napi::Env env, Napi::Object exports);

  std::vector<uint32_t> ops_;
  struct Literal {
    uint32_t start, len;
  };
  std::vector<uint8_t> litBytes_;
  std::vector<Literal> literals_;
  std::vector<std::unordered_map<uint32_t, std::string>> tables_;
  Napi::Reference<Napi::Uint32Array> state_;
};

void InitFormatter(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor =
      RecordFormatter::DefineClass(env, "RecordFormatter",
                                   {
                                       RecordFormatter::InstanceMethod<&RecordFormatter::SetEntry>("setEntry"),
                                       RecordFormatter::InstanceMethod<&RecordFormatter::Format>("format"),
                                   });
  exports.Set("RecordFormatter", ctor);
  // The op numbers, for the TypeScript side (src/formatter.ts): one definition, here.
  Napi::Object ops = Napi::Object::New(env);
  const std::pair<const char*, uint32_t> names[] = {
      {"LIT", kLit},         {"NUM", kNum},       {"BOOL", kBool},           {"STR", kStr},
      {"BASE64", kBase64},   {"TABLE", kTable},   {"JUMP_ZERO", kJumpZero}, {"JUMP_NONZERO", kJumpNonZero},
      {"JUMP", kJump},       {"JS_IF_ANY", kJsIfAny}, {"JS_IF_NOT", kJsIfNot}, {"JS_IF_SHORT", kJsIfShort},
  };
  for (const auto& [name, value] : names) ops.Set(name, value);
  exports.Set("formatterOps", ops);
}

}  // namespace rt
