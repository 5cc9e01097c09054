// @retrace/spec: what a trace may ask for, with no native code, no gRPC and no Kubernetes client:
// probe, collector and filter syntax, profiles, Trace types generated from crds/, validation.
export { ProbeSyntaxError, CollectorError } from './errors.js';
export { commaList, CommaListError } from './comma-list.js';
export { parseProbe, wildcard, type ProbeSpec, type ProbeKind } from './probe-syntax.js';
export { COLLECTOR_NAMES, HOST_WIDE_COLLECTORS, isCollectorName, type CollectorName } from './collector-names.js';
export {
  parseVerdicts,
  VERDICT_NAMES,
  CLUSTER_NFT_VERDICTS,
  isClusterNftVerdict,
  type NftVerdict,
} from './nft-verdicts.js';
export { SKB_SECTIONS, isSkbSection, type SkbSection } from './skb-sections.js';
export { parseMetaFilter, MetaFilterSyntaxError, type MetaExpr, type MetaCompare, type MetaOp } from './meta-parse.js';
export {
  ProfileError,
  ProfileFormatError,
  ProfileNotFoundError,
  DuplicateProfileError,
  ProfileNoMatchError,
  ProfileArgumentError,
} from './profiles/errors.js';
export { expandArgs, type OptionShape, type ExpandedArgs } from './profiles/expand-args.js';
export { chooseEntry, conditionHolds, type KernelFacts } from './profiles/conditions.js';
export {
  parseKernelRelease,
  parseVersionRequirement,
  satisfies,
  VersionRequirementError,
  type KernelVersion,
} from './profiles/kernel-version.js';
export {
  applyProfile,
  NODE_PROFILE_OPTIONS,
  type ProfiledSpec,
  type ProfileableSpec,
} from './profiles/trace-profile.js';
export { profileArguments, profileNames, type ProfileContext } from './profiles/profile-args.js';
export {
  loadProfileFile,
  parseProfileFile,
  type Profile,
  type ProfileArg,
  type ProfileEntry,
  type Section,
} from './profiles/profile-file.js';
export {
  BUILTIN_PROFILES_DIR,
  profileDirs,
  checkExtraDirs,
  scanDirectory,
  findProfile,
  isProfilePath,
  type DirectoryScan,
} from './profiles/search-path.js';
export * from './gen/trace-types.js';
export {
  isNamespaced,
  type TraceResource,
  type TraceMetadata,
  type Phase,
  type Condition,
  type NodeStatus,
  type LabelSelector,
  type LabelSelectorRequirement,
} from './trace/trace-resource.js';
export { TraceSpecError } from './trace/trace-spec-error.js';
export {
  validateTrace,
  checkPacketFilter,
  parseDuration,
  profileChecker,
  type FilterChecker,
  type TraceChecks,
} from './trace/validate-trace.js';
