// @retrace/events: the event model shared by every part of retrace.
export * from './gen/event.js';
export * from './gen/protocol-agent.js';
export * from './gen/protocol-query.js';
export * from './gen/protocol-control.js';
export {
  FIELDS,
  AGENT_FIELDS,
  QUERY_FIELDS,
  CONTROL_FIELDS,
  fieldNumber,
  messageFields,
  serviceMethods,
  WIRE_TYPE,
  SchemaError,
  type FieldKind,
  type FieldSpec,
  type MethodSpec,
} from './descriptors.js';
export { encodeMessage, decodeMessage, asDecodeError, type DecodeOptions } from './proto-codec.js';
export { checkMessage, fieldChecker } from './proto-check.js';
export { ProtoDecodeError, ProtoReader, ProtoWriter } from './proto-wire.js';
export { putVarint, putVarint64, varintLength } from './varint-write.js';
export { parseLine, parseEvent, eventFromJson, stringifyEvent, EventParseError } from './json.js';
export { integerJson, writeMessageJson } from './json-writer.js';
export { trackingId, sameSeries, sameSkb } from './tracking.js';
export { formatMac, formatIpv4, formatIpv6 } from './net-addr.js';
export { ethertypeName, ipProtoName, icmpTypeName, ETH_P, IPPROTO } from './protocols.js';
export {
  parsePacket,
  parsePacketBase64,
  eventPacket,
  type ParsedPacket,
  type EthernetLayer,
  type VlanTag,
  type ArpLayer,
  type IpLayer,
  type Ipv4Layer,
  type Ipv6Layer,
  type Ipv6ExtHeader,
  type L4Layer,
  type TcpLayer,
  type UdpLayer,
  type IcmpLayer,
  type TunnelLayer,
} from './packet.js';
export { PacketCursor } from './packet-walk.js';
export { PacketHeaderFields } from './packet-header.js';
export { PacketLayer, WalkStop, TunnelKind, VXLAN_PORT, GENEVE_PORT, MAX_TUNNEL_FRAMES } from './packet-layers.js';
export { formatPacket, tcpFlagsText, type PacketFormatOptions } from './packet-format.js';
export { clockOffsetOf, toWallClockNs, formatUtc, formatUtcText, clockOffsetFromNs } from './time.js';
export { formatEvent, formatHeader, formatSeries, probeKind, type FormatOptions } from './format.js';
export { sectionLines } from './format-sections.js';
export { isFlatSkb, isLegacySkb, legacySkbView, type LegacySkbView } from './legacy-skb.js';
export { upgradeLegacyLayout } from './legacy-layout.js';
export { legacyPacket, type LegacyPacket } from './legacy-packet.js';
export { EventSorter, type EventSorterOptions } from './sort.js';
export { readEventLines, openInput, writeEventLine, InputError, type EventLine } from './reader.js';
export {
  parseInputSpec,
  inputFiles,
  setMember,
  readStartup,
  existingSetFiles,
  isFile,
  type InputSpec,
  type SetMember,
} from './rotated-set.js';
export { eventJsonSchema, type JsonSchema } from './schema.js';
export { collectStats, formatStats, StatsCollector, type EventStats, type FileStats } from './stats.js';
export {
  readCapture,
  CaptureFormatError,
  LINKTYPE_ETHERNET,
  LINKTYPE_RAW,
  type CapturedPacket,
} from './capture-reader.js';
export { PcapngWriter, probeInterfaceName, RETIS_PEN, type PcapngPacket } from './pcapng.js';
export { CT_STATUS_BITS, ctStatusNames } from './ct-status.js';
