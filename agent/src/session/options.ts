// What a tracing session is given, and what it counts. Collectors add their own options
// (CollectorOptions, collectors/index.ts).
import type { FeatureReport, RecordBatch } from '@retrace/ebpf-loader';
import type { Event } from '@retrace/events';
import type { CollectorOptions } from '../collectors/index.js';
import type { JsonLinesSink } from '../decode/record-lines.js';

export interface CoreSessionOptions {
  collectors?: string[];
  probes?: string[];
  /** tcpdump expression deciding in the kernel which packets start being followed (-f). */
  filter?: string;
  /** retis meta filter on sk_buff fields (-m), e.g. `sk_buff.mark == 42`. */
  metaFilter?: string;
  /** Kernel stack on every probe (per probe: `/stack`). */
  stack?: boolean;
  /**
   * --probe-stack: every probe takes a stack trace, and functions seen in them that take a
   * struct sk_buff * get a kprobe at runtime (probe-stack.ts). Needs kprobes and a filter.
   */
  probeStack?: boolean;
  /** Ring buffer bytes: a power of two, at least a page (default 8 MiB). */
  ringBytes?: number;
  /**
   * Bytes waiting in the ring before BPF wakes the reader (default: a quarter of the ring, at
   * most 256 KiB; 0 wakes on every record). Smaller remainders are drained every `drainMs`.
   */
  wakeupBytes?: number;
  drainMs?: number;
  features?: FeatureReport;
  /** Receives decoded events (give this, or onJsonLines/onJson, or both). */
  onEvent?: (ev: Event) => void;
  /**
   * Receives events as retis JSON lines, many at a time, made straight from the records (the
   * fast path: native formatting, no Event); the bytes are valid during the call only.
   */
  onJsonLines?: JsonLinesSink;
  /** Receives each event as a retis JSON line (a string each: onJsonLines is cheaper). */
  onJson?: (line: string) => void;
  /**
   * Sees each batch of raw ring buffer records before they are read (a benchmark copies them to
   * replay later). The batch is valid during the call only.
   */
  onRecords?: (batch: RecordBatch) => void;
  /** A record that could not be decoded (counted; the session goes on). */
  onRecordError?: (err: Error) => void;
  /** May change the system (e.g. a collector adds the firewall table it needs in every namespace). */
  allowSystemChanges?: boolean;
  /** Notes for the user (e.g. what a collector needs). */
  onNote?: (msg: string) => void;
  /**
   * Namespace scoping, enforced in the kernel: only packets in these network namespaces (inode
   * numbers, as `stat -L /proc/PID/ns/net` gives) are reported or counted. Given, even empty,
   * the session is scoped for its whole life; setNetns() replaces the set. Absent: no scoping.
   */
  netns?: readonly number[];
}

export type SessionOptions = CoreSessionOptions & CollectorOptions;

export interface ProbeCounters {
  symbol: string;
  probeType: string;
  hits: number;
  lost: number;
}

export interface SessionCounts {
  delivered: number;
  lost: number;
  hits: number;
  badRecords: number;
  perProbe: ProbeCounters[];
  /** Packets still followed when the session stopped (set by stop(); their freeing point was not seen). */
  followed?: number;
}
