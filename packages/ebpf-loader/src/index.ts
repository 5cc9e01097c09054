// @retrace/ebpf-loader: load, configure, attach and read eBPF programs from TypeScript.
export { BpfObject, type ProgramInfo, type GlobalValue } from './object.js';
export { Program, type AttachCookie } from './program.js';
export { Link } from './link.js';
export { BpfMap, type MapSpec, type Key } from './map.js';
export { RingBufferReader, RecordBatch, type RingBufferOptions } from './ringbuf.js';
export {
  NetlinkSocket,
  netlinkMessages,
  netlinkAttributes,
  NETLINK_NETFILTER,
  NFNLGRP_NFTRACE,
  type NetlinkMessage,
  type DatagramHandler,
} from './netlink.js';
export { KernelBtf, tracepointName, type Prototype, type Parameter, type Member, type StructLayout } from './btf.js';
export { probeFeatures, FEATURES, type Feature, type FeatureReport, type FeatureResult } from './features.js';
export {
  compilePacketFilter,
  libpcapVersion,
  linkTypeValue,
  type CbpfInstruction,
  type CompileOptions,
} from './pcap.js';
export { bpfObjectPath, bpfArtifactPath, bpfOutputDir, BpfObjectMissingError } from './paths.js';
export { MapType, ProgType, BtfKind, BtfKindName, UpdateFlag } from './constants.js';
export {
  EbpfError,
  LoadError,
  AttachError,
  MapError,
  BtfError,
  ObjectError,
  PcapFilterError,
  NativeModuleMissingError,
} from './errors.js';
export { RecordFormatter, FormatOp, FormatStatus, FormatterProgramError, type FormatProgram } from './formatter.js';
export { monotonicClockOffset, type MonotonicClockOffset } from './clock.js';
export { native as rawNative, type NativeBtfType } from './native.js';
export { readField, decodeRecord, RecordLayoutError } from './record.js';
