// @retrace/events/script: the stable API for scripts (docs/scripting.md). What is exported here
// keeps its name and meaning across minor versions; everything else in @retrace/events may move.
export { EventFile, openEventFile, type OpenOptions, type SeriesOptions } from './event-file.js';
export { EventFileError } from './event-file-error.js';
export { resolveInputSet } from './input-set.js';
export { sectionsOf, sectionOf, type SectionName } from './sections.js';
// Sections are typed from proto/retrace/v1/event.proto (64-bit integers are bigints).
export type * from '../gen/event.js';
export { formatEvent, formatSeries, type FormatOptions } from '../format.js';
export { trackingId, sameSeries, sameSkb } from '../tracking.js';
export { parsePacket, parsePacketBase64, eventPacket, type ParsedPacket } from '../packet.js';
export { stringifyEvent } from '../json.js';
