// Kernel releases and version requirements as `when: [{type: version}]` compares them.
import {
  VersionRequirementError,
  parseKernelRelease,
  parseVersionRequirement,
  satisfies,
} from '../../src/profiles/kernel-version.js';

const holds = (release: string, req: string): boolean =>
  satisfies(parseKernelRelease(release), parseVersionRequirement(req));

test('a release is read as x.y.z: distribution suffixes ignored, missing parts 0', () => {
  expect(parseKernelRelease('6.18.44-fc-v657')).toEqual([6, 18, 44]);
  expect(parseKernelRelease('5.14.0-427.13.1.el9_4.x86_64')).toEqual([5, 14, 0]);
  expect(parseKernelRelease('6.1')).toEqual([6, 1, 0]);
  expect(parseKernelRelease('6.8.0+')).toEqual([6, 8, 0]);
  expect(() => parseKernelRelease('linux')).toThrow(VersionRequirementError);
});

test('each comparator, and comma lists that must all hold', () => {
  expect(holds('4.6.1', '=4.6.1')).toBe(true);
  expect(holds('4.6.2', '=4.6.1')).toBe(false);
  expect(holds('4.6.2', '>4.6.1')).toBe(true);
  expect(holds('4.6.1', '>4.6.1')).toBe(false);
  expect(holds('4.6.1', '>=4.6.1')).toBe(true);
  expect(holds('4.6.0', '<4.6.1')).toBe(true);
  expect(holds('4.6.1', '<=4.6.1')).toBe(true);
  expect(holds('4.6.1-rc2', '<=4.6')).toBe(false); // 4.6 is 4.6.0
  expect(holds('5.10.0', '>=3.5.5, <6')).toBe(true);
  expect(holds('6.0.0', '>=3.5.5, <6')).toBe(false);
  expect(holds('3.5.4', '>=3.5.5, <6')).toBe(false);
  expect(holds('6.18.44-fc-v657', '>6.1.2')).toBe(true);
  expect(holds('10.0', '>9.99')).toBe(true); // numbers, not strings
});

test.each(['4.6.1', '~4.6', '>= four', '>=5,', '>=5.1.2.3', ''])('requirement %p is refused', (req) => {
  expect(() => parseVersionRequirement(req)).toThrow(VersionRequirementError);
});
