// Kernel UAPI numbers used by the loader's callers (include/uapi/linux/bpf.h, btf.h).

export const MapType = {
  HASH: 1,
  ARRAY: 2,
  PROG_ARRAY: 3,
  PERF_EVENT_ARRAY: 4,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  STACK_TRACE: 7,
  LRU_HASH: 9,
  LRU_PERCPU_HASH: 10,
  RINGBUF: 27,
} as const;

export const PERCPU_MAP_TYPES: ReadonlySet<number> = new Set([
  MapType.PERCPU_HASH,
  MapType.PERCPU_ARRAY,
  MapType.LRU_PERCPU_HASH,
  21 /* PERCPU_CGROUP_STORAGE */,
]);

export const ProgType: Record<number, string> = {
  1: 'socket_filter',
  2: 'kprobe',
  3: 'sched_cls',
  4: 'sched_act',
  5: 'tracepoint',
  6: 'xdp',
  7: 'perf_event',
  17: 'raw_tracepoint',
  26: 'tracing',
  28: 'ext',
  31: 'syscall',
};

export const UpdateFlag = { ANY: 0, NOEXIST: 1, EXIST: 2 } as const;
export type UpdateFlagName = 'any' | 'noexist' | 'exist';

export const BtfKind = {
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;
export type BtfKindName = keyof typeof BtfKind;

export const BtfKindName: Record<number, BtfKindName> = Object.fromEntries(
  Object.entries(BtfKind).map(([k, v]) => [v, k as BtfKindName]),
);
