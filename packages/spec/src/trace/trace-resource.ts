// A Trace or ClusterTrace as the API server holds it. Spec and status are generated from the CRDs
// (gen/trace-types.ts); the names below are parts of them that code passes around.
import type { ClusterTraceResourceSpec, TraceResourceStatus } from '../gen/trace-types.js';

/**
 * The metadata retrace reads and writes. Custom objects come as plain JSON, so timestamps are
 * strings here (client-node's V1ObjectMeta types them as Date, which they are only for the
 * built-in kinds it deserializes).
 */
export interface TraceMetadata {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  finalizers?: string[];
  deletionTimestamp?: string;
  creationTimestamp?: string;
}

/** Either kind: a Trace's spec is a ClusterTrace's without namespaceSelector. */
export interface TraceResource {
  apiVersion?: string;
  kind?: string;
  metadata: TraceMetadata;
  spec?: ClusterTraceResourceSpec;
  status?: TraceResourceStatus;
}

export type Phase = NonNullable<TraceResourceStatus['phase']>;
export type Condition = NonNullable<TraceResourceStatus['conditions']>[number];
export type NodeStatus = NonNullable<TraceResourceStatus['nodes']>[number];
export type LabelSelector = NonNullable<ClusterTraceResourceSpec['podSelector']>;
export type LabelSelectorRequirement = NonNullable<LabelSelector['matchExpressions']>[number];

/** The kind a resource is, from where it lives: namespaced objects are Traces. */
export const isNamespaced = (t: Pick<TraceResource, 'metadata'>): boolean => t.metadata.namespace !== undefined;
