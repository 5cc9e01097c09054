// The record readers' codecs of a set of collectors (a session's, or a test's).
import type { RecordLayouts } from '../decode/layout.js';
import type { SectionCodec } from '../decode/section.js';
import type { SessionOptions } from '../session/options.js';
import { REGISTRY } from './index.js';

export function collectorSections(
  layouts: RecordLayouts,
  names: readonly string[],
  options: SessionOptions = {},
): SectionCodec[] {
  return REGISTRY.filter((c) => names.includes(c.name)).flatMap((c) => c.sections?.(layouts, options) ?? []);
}
