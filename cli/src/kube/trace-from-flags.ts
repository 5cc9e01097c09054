// `retrace create NAME [collect flags]`: the Trace (or ClusterTrace) those flags describe.
import {
  CLUSTER_NFT_VERDICTS,
  COLLECTOR_NAMES,
  GROUP,
  SKB_SECTIONS,
  VERSION,
  commaList,
  isClusterNftVerdict,
  isCollectorName,
  type ClusterTraceResourceSpec,
  type NftVerdict,
  type TraceResource,
} from '@retrace/spec';
import { positiveInt, seconds, skbSections, type TracingFlags } from '../commands/collect-flags.js';
import { UsageError } from '../usage-error.js';
import { parseLabelSelectorText, parseNodeSelector } from './label-selector.js';

const DEFAULT_NFT_VERDICTS = 'drop,accept';

export interface CreateFlags extends TracingFlags {
  namespace: string;
  /** A ClusterTrace instead of a namespaced Trace. */
  cluster?: boolean;
  nodeSelector: string[];
  nodeProfile?: string;
  podSelector?: string;
  namespaceSelector?: string;
  eventsPerSecond?: string;
  pcap?: boolean;
  retention?: string;
}

/** "1.5" seconds -> "1500ms"; whole seconds stay seconds ("10s"), as a user would write them. */
function durationText(s: number): string {
  return Number.isInteger(s) ? `${s}s` : `${Math.round(s * 1000)}ms`;
}

function nftVerdicts(text: string | undefined): NftVerdict[] | undefined {
  if (text === undefined || text === DEFAULT_NFT_VERDICTS) return undefined;
  const list = commaList(text, '--nft-verdicts');
  if (list.includes('all')) return [...CLUSTER_NFT_VERDICTS];
  const bad = list.filter((v) => !isClusterNftVerdict(v));
  if (bad.length)
    throw new UsageError(
      `--nft-verdicts ${bad.join(', ')}: a cluster trace reports ${CLUSTER_NFT_VERDICTS.join(', ')} (or all); ${bad.length > 1 ? 'these are' : 'this is'} for local runs only`,
    );
  return list.filter(isClusterNftVerdict);
}

export function traceFromFlags(name: string, f: CreateFlags): TraceResource {
  if (f.namespaceSelector !== undefined && !f.cluster)
    throw new UsageError('--namespace-selector needs --cluster: a namespaced Trace sees only its own namespace');
  if (f.allowSystemChanges && !f.cluster)
    throw new UsageError('--allow-system-changes needs --cluster: only a ClusterTrace may change the nodes');
  if (f.ovsEnrichFlows && !f.cluster)
    throw new UsageError("--ovs-enrich-flows needs --cluster: ovs-vswitchd's flows are the whole node's");
  if (f.ovsEnrichRate !== undefined && !f.ovsEnrichFlows)
    throw new UsageError('--ovs-enrich-rate needs --ovs-enrich-flows: it limits its requests');
  const named = commaList(f.collectors, '-c/--collectors').filter((c) => c !== 'auto');
  const unknown = named.filter((c) => !isCollectorName(c));
  if (unknown.length)
    throw new UsageError(
      `-c/--collectors: unknown collector ${unknown.join(', ')} (known: auto, ${COLLECTOR_NAMES.join(', ')})`,
    );
  const collectors = named.filter(isCollectorName);
  const sections = skbSections(f.skbSections);
  const maxEvents = positiveInt('--stop-after', f.stopAfter);
  const duration = seconds(f.duration);
  const eventsPerSecond = positiveInt('--events-per-second', f.eventsPerSecond);
  const enrichRate = positiveInt('--ovs-enrich-rate', f.ovsEnrichRate);
  const nodeSelector = parseNodeSelector(f.nodeSelector);
  const verdicts = nftVerdicts(f.nftVerdicts);
  const spec: ClusterTraceResourceSpec = {
    ...(collectors.length ? { collectors } : {}),
    ...(f.probe.length ? { probes: [...f.probe] } : {}),
    ...(f.filterPacket ? { packetFilter: f.filterPacket } : {}),
    ...(f.filterMeta ? { metaFilter: f.filterMeta } : {}),
    ...(f.nodeProfile ? { profile: f.nodeProfile } : {}),
    ...(nodeSelector ? { nodeSelector } : {}),
    ...(f.podSelector !== undefined ? { podSelector: parseLabelSelectorText('--pod-selector', f.podSelector) } : {}),
    ...(f.namespaceSelector !== undefined
      ? { namespaceSelector: parseLabelSelectorText('--namespace-selector', f.namespaceSelector) }
      : {}),
    ...(duration !== undefined ? { duration: durationText(duration) } : {}),
    ...(maxEvents !== undefined ? { maxEvents } : {}),
    ...(eventsPerSecond !== undefined ? { eventsPerSecondPerNode: eventsPerSecond } : {}),
    ...(sections.size < SKB_SECTIONS.length ? { skbSections: [...sections] } : {}),
    ...(verdicts ? { nftVerdicts: verdicts } : {}),
    ...(f.ovsTrack ? { ovsTrack: true } : {}),
    ...(f.ovsEnrichFlows ? { ovsEnrichFlows: true } : {}),
    ...(enrichRate !== undefined ? { ovsEnrichRate: enrichRate } : {}),
    ...(f.stack ? { stack: true } : {}),
    ...(f.allowSystemChanges ? { allowSystemChanges: true } : {}),
    ...(f.pcap || f.retention !== undefined
      ? {
          output: {
            ...(f.pcap ? { pcap: true } : {}),
            ...(f.retention !== undefined ? { retention: f.retention } : {}),
          },
        }
      : {}),
  };
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: f.cluster ? 'ClusterTrace' : 'Trace',
    metadata: f.cluster ? { name } : { name, namespace: f.namespace },
    spec,
  };
}
