// Instruction splicing at load time. Programs in `retrace/...` sections carry placeholder calls
// (`call MAGIC`, an invalid helper id); just before each program is loaded, libbpf calls us with
// its final instructions (subprograms appended, relocations applied), and every placeholder is
// replaced by the instructions registered for its magic number (a compiled packet filter).
// Jumps and calls that cross a splice, and the BTF func/line info offsets, are moved to match.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <napi.h>
#include <string.h>

#include <map>
#include <vector>

#include "addon.h"
#include "errors.h"

namespace rt {

namespace {

std::map<uint32_t, std::vector<bpf_insn>> g_splices;
// func/line info handed to the kernel must outlive the callback: kept until the next load.
std::vector<uint8_t> g_funcInfo, g_lineInfo;

// With nothing registered for a placeholder, it accepts everything (r0 = 1).
std::vector<bpf_insn> Replacement(uint32_t magic) {
  auto it = g_splices.find(magic);
  if (it != g_splices.end()) return it->second;
  bpf_insn accept;
  memset(&accept, 0, sizeof(accept));
  accept.code = BPF_ALU64 | BPF_MOV | BPF_K;
  accept.dst_reg = BPF_REG_0;
  accept.imm = 1;
  return {accept};
}

bool IsPlaceholder(const bpf_insn& in) {
  return in.code == (BPF_JMP | BPF_CALL) && in.src_reg == 0 && (static_cast<uint32_t>(in.imm) >> 16) == 0x0dea;
}

void MoveInfo(const void* info, uint32_t cnt, uint32_t recSize, const std::vector<int>& newIndex, std::vector<uint8_t>* out) {
  out->assign(static_cast<const uint8_t*>(info), static_cast<const uint8_t*>(info) + static_cast<size_t>(cnt) * recSize);
  for (uint32_t i = 0; i < cnt; i++) {
    uint32_t* insnOff = reinterpret_cast<uint32_t*>(out->data() + static_cast<size_t>(i) * recSize);  // first field
    if (*insnOff < newIndex.size()) *insnOff = static_cast<uint32_t>(newIndex[*insnOff]);
  }
}

int PrepareLoad(struct bpf_program* prog, struct bpf_prog_load_opts* opts, long cookie) {
  const bpf_insn* insns = bpf_program__insns(prog);
  size_t cnt = bpf_program__insn_cnt(prog);
  bool any = false;
  for (size_t i = 0; i < cnt; i++) any = any || IsPlaceholder(insns[i]);
  if (!any) return 0;

  std::vector<bpf_insn> out;
  std::vector<int> newIndex(cnt + 1, 0);
  for (size_t i = 0; i < cnt; i++) {
    newIndex[i] = static_cast<int>(out.size());
    if (IsPlaceholder(insns[i])) {
      std::vector<bpf_insn> r = Replacement(static_cast<uint32_t>(insns[i].imm));
      out.insert(out.end(), r.begin(), r.end());
    } else {
      out.push_back(insns[i]);
    }
  }
  newIndex[cnt] = static_cast<int>(out.size());

  // Re-aim every jump, call and function pointer of the original code.
  for (size_t i = 0; i < cnt; i++) {
    const bpf_insn& in = insns[i];
    if (IsPlaceholder(in)) continue;
    bpf_insn& o = out[newIndex[i]];
    uint8_t cls = BPF_CLASS(in.code);
    uint8_t op = BPF_OP(in.code);
    int64_t target = -1;
    if ((cls == BPF_JMP || cls == BPF_JMP32) && op != BPF_CALL && op != BPF_EXIT) {
      target = static_cast<int64_t>(i) + in.off + 1;
      if (target < 0 || target > static_cast<int64_t>(cnt)) return -EINVAL;
      int64_t off = newIndex[target] - newIndex[i] - 1;
      if (off < INT16_MIN || off > INT16_MAX) return -E2BIG;
      o.off = static_cast<int16_t>(off);
    } else if (cls == BPF_JMP && op == BPF_CALL && in.src_reg == BPF_PSEUDO_CALL) {
      target = static_cast<int64_t>(i) + in.imm + 1;
      if (target < 0 || target > static_cast<int64_t>(cnt)) return -EINVAL;
      o.imm = static_cast<int32_t>(newIndex[target] - newIndex[i] - 1);
    } else if (in.code == (BPF_LD | BPF_IMM | BPF_DW)) {
      if (in.src_reg == BPF_PSEUDO_FUNC) {
        target = static_cast<int64_t>(i) + in.imm + 1;
        if (target < 0 || target > static_cast<int64_t>(cnt)) return -EINVAL;
        o.imm = static_cast<int32_t>(newIndex[target] - newIndex[i] - 1);
      }
      i++;  // second half of the 16-byte load
    }
  }

  if (opts->func_info && opts->func_info_cnt) {
    MoveInfo(opts->func_info, opts->func_info_cnt, opts->func_info_rec_size, newIndex, &g_funcInfo);
    opts->func_info = g_funcInfo.data();
  }
  if (opts->line_info && opts->line_info_cnt) {
    MoveInfo(opts->line_info, opts->line_info_cnt, opts->line_info_rec_size, newIndex, &g_lineInfo);
    opts->line_info = g_lineInfo.data();
  }
  return bpf_program__set_insns(prog, out.data(), out.size());
}

struct SectionDef {
  const char* sec;
  enum bpf_prog_type type;
  enum bpf_attach_type attach;
};

const SectionDef kSections[] = {
    {"retrace/raw_tp", BPF_PROG_TYPE_RAW_TRACEPOINT, static_cast<enum bpf_attach_type>(0)},
    {"retrace/kprobe", BPF_PROG_TYPE_KPROBE, static_cast<enum bpf_attach_type>(0)},
    {"retrace/kprobe.multi", BPF_PROG_TYPE_KPROBE, BPF_TRACE_KPROBE_MULTI},
    {"retrace/fentry", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY},
    {"retrace/fexit", BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT},
    {"retrace/tc", BPF_PROG_TYPE_SCHED_CLS, static_cast<enum bpf_attach_type>(0)},
};

// setSplice(magic, insns | null): what replaces `call magic` in programs loaded from now on.
Napi::Value SetSplice(const Napi::CallbackInfo& info) {
  uint32_t magic;
  if (!ArgU32(info, 0, &magic, "placeholder magic")) return info.Env().Undefined();
  if ((magic >> 16) != 0x0dea) return ThrowType(info.Env(), "placeholder magic numbers are 0x0dea0000-0x0deaffff");
  if (info.Length() < 2 || info[1].IsNull() || info[1].IsUndefined()) {
    g_splices.erase(magic);
    return info.Env().Undefined();
  }
  Napi::Buffer<uint8_t> buf;
  if (!ArgBuffer(info, 1, &buf, "instructions")) return info.Env().Undefined();
  if (buf.Length() == 0 || buf.Length() % sizeof(bpf_insn) != 0)
    return ThrowType(info.Env(), "instructions must be a non-empty multiple of 8 bytes");
  std::vector<bpf_insn> v(buf.Length() / sizeof(bpf_insn));
  memcpy(v.data(), buf.Data(), buf.Length());
  g_splices[magic] = std::move(v);
  return info.Env().Undefined();
}

}  // namespace

void InitSplice(Napi::Env env, Napi::Object exports) {
  static bool registered = false;
  if (!registered) {
    for (const SectionDef& d : kSections) {
      LIBBPF_OPTS(libbpf_prog_handler_opts, opts, .prog_prepare_load_fn = PrepareLoad);
      libbpf_register_prog_handler(d.sec, d.type, d.attach, &opts);
    }
    registered = true;
  }
  exports.Set("setSplice", Napi::Function::New<SetSplice>(env, "setSplice"));
}

}  // namespace rt
