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
#include "format-text.h"

namespace rt {

namespace {

// The ops and their arguments (all u32). Sizes are 1, 2, 4 or 8 bytes; offsets are from the
// record's start; jumps are forward, counted in u32s from the end of the jump op.
enum Op : uint32_t {
  kEnd = 0,         // (the end of the program: Validate() puts it there)
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

// A Uint8Array (a Buffer too) or a Uint32Array argument, nothing else.
bool TypedArg(const Napi::CallbackInfo& info, size_t i, Napi::Uint8Array* out, const char* name) {
  if (info.Length() <= i || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    ThrowType(info.Env(), std::string(name) + " must be a Uint8Array");
    return false;
  }
  *out = info[i].As<Napi::Uint8Array>();
  return true;
}

bool TypedArg(const Napi::CallbackInfo& info, size_t i, Napi::Uint32Array* out, const char* name) {
  if (info.Length() <= i || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    ThrowType(info.Env(), std::string(name) + " must be a Uint32Array");
    return false;
  }
  *out = info[i].As<Napi::Uint32Array>();
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
  // jumps landing on an op (or the end): Run() then trusts the program. Adds up the longest
  // line it can write, and ends it with kEnd.
  std::string Validate() {
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
          staticMax_ += literals_[a[0]].len;
          break;
        case kNum:
        case kBool:
          if (!SizeOk(a[0]) || (a[0] == 8 && (a[2] || a[3])) || a[2] > 31) return "bad number field";
          staticMax_ += 20;
          break;
        case kStr:
          if (a[1] == 0 || a[1] > 4096) return "bad string length";
          staticMax_ += 6 * static_cast<size_t>(a[1]) + 2;
          break;
        case kBase64:
          if (!SizeOk(a[0]) || a[3] > (1u << 20)) return "bad base64 field";
          staticMax_ += (static_cast<size_t>(a[3]) + 2) / 3 * 4;
          break;
        case kTable:
          if (a[0] >= tables_.size() || !SizeOk(a[1]) || a[1] == 8) return "bad table op";
          tableOps_++;
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
    ops_.push_back(kEnd);
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
    if (bytes.ByteLength() > maxEntry_) maxEntry_ = bytes.ByteLength();
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
      status = outPos + MaxLine() <= outLen ? Run<false>(base + at, len, o, outLen, &pos, state)
                                            : Run<true>(base + at, len, o, outLen, &pos, state);
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
  // Checked: every write makes sure of its room first; unchecked (the usual case), the room for
  // the longest line the program can write was made sure of before.
  template <bool Checked>
  Status Run(const uint8_t* r, size_t len, uint8_t* out, size_t outLen, size_t* posInOut, uint32_t* state) const {
    size_t pos = *posInOut;
    // Room for n more bytes and the line's '\n'.
    auto room = [&](size_t n) { return !Checked || pos + n + 1 + kSlack <= outLen; };
    auto field = [&](uint32_t size, uint32_t off, uint64_t* v) {
      if (static_cast<size_t>(off) + size > len) return false;
      *v = Load(r + off, size);
      return true;
    };
    // Threaded dispatch: each op jumps to the next itself (one indirect branch per op site
    // predicts far better than one shared by all). The program ends with kEnd (Validate()).
    static const void* const kLabels[] = {&&end,      &&lit,   &&num,        &&boolean,     &&str,
                                          &&base64,   &&table, &&jump_zero,  &&jump_nonzero, &&jump,
                                          &&js_if_any, &&js_if_not, &&js_if_short};
    static_assert(sizeof(kLabels) / sizeof(kLabels[0]) == kOpCount, "a label per op");
    const uint32_t* p = ops_.data();
    const uint32_t* a = p;
    uint64_t v = 0;
#define RT_NEXT()          \
  do {                     \
    a = p + 1;             \
    p += 1 + kArgs[*p];    \
    goto* kLabels[a[-1]];  \
  } while (0)
    RT_NEXT();
  lit: {
    const Literal& l = literals_[a[0]];
    if (!room(l.len)) return kFull;
    CopySmall(out + pos, litBytes_.data() + l.start, l.len);
    pos += l.len;
    RT_NEXT();
  }
  num:
    if (!field(a[0], a[1], &v)) return kFallback;
    v >>= a[2];
    if (a[3]) v &= a[3];
    if (!room(20)) return kFull;
    pos = Decimal(out + pos, v) - out;
    RT_NEXT();
  boolean:
    if (!field(a[0], a[1], &v)) return kFallback;
    v >>= a[2];
    if (a[3]) v &= a[3];
    if (!room(5)) return kFull;
    memcpy(out + pos, v ? "true " : "false", 5);  // 5 bytes either way; "true" moves 4
    pos += v ? 4 : 5;
    RT_NEXT();
  str: {
    const uint32_t off = a[0], max = a[1];
    if (static_cast<size_t>(off) + max > len) return kFallback;
    if (!room(6 * static_cast<size_t>(max) + 2)) return kFull;
    uint8_t* o = JsonString(out + pos, r + off, max);
    if (!o) return kFallback;  // not ASCII: JS decodes it as JS does
    pos = o - out;
    RT_NEXT();
  }
  base64: {
    if (!field(a[0], a[1], &v)) return kFallback;
    const uint32_t dataOff = a[2], max = a[3];
    if (v > max || dataOff + v > len) return kFallback;
    if (!room((v + 2) / 3 * 4)) return kFull;
    pos = Base64(out + pos, r + dataOff, static_cast<size_t>(v)) - out;
    RT_NEXT();
  }
  table: {
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
    RT_NEXT();
  }
  jump_zero:
    if (!field(a[0], a[1], &v)) return kFallback;
    if ((v & a[2]) == 0) p += a[3];
    RT_NEXT();
  jump_nonzero:
    if (!field(a[0], a[1], &v)) return kFallback;
    if ((v & a[2]) != 0) p += a[3];
    RT_NEXT();
  jump:
    p += a[0];
    RT_NEXT();
  js_if_any:
    if (!field(a[0], a[1], &v)) return kFallback;
    if (v & a[2]) return kFallback;
    RT_NEXT();
  js_if_not:
    if (!field(a[0], a[1], &v)) return kFallback;
    if (v != a[2]) return kFallback;
    RT_NEXT();
  js_if_short:
    if (len < a[0]) return kFallback;
    RT_NEXT();
#undef RT_NEXT
  end:
    if (!room(0)) return kFull;
    *posInOut = pos;
    return kDone;
  }

  // The longest line the program can write (tables: their longest entry so far), slack included.
  size_t MaxLine() const { return staticMax_ + tableOps_ * maxEntry_ + 1 + kSlack; }

  friend void InitFormatter(Napi::Env env, Napi::Object exports);

  std::vector<uint32_t> ops_;
  struct Literal {
    uint32_t start, len;
  };
  std::vector<uint8_t> litBytes_;
  std::vector<Literal> literals_;
  // What MaxLine() adds up: the ops but tables, the table ops, the longest table entry.
  size_t staticMax_ = 0, tableOps_ = 0, maxEntry_ = 0;
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
