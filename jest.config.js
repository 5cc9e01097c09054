// Jest runs TypeScript sources directly (swc, ESM); type-checking is `tsc -b`, a step of its own.
const swc = [
  '@swc/jest',
  { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'es6' }, sourceMaps: 'inline' },
];

export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: {
    '^@retrace/spec$': '<rootDir>/packages/spec/src/index.ts',
    '^@retrace/ebpf-loader$': '<rootDir>/packages/ebpf-loader/src/index.ts',
    '^@retrace/events$': '<rootDir>/packages/events/src/index.ts',
    '^@retrace/wire$': '<rootDir>/packages/wire/src/index.ts',
    '^@retrace/cli-flags$': '<rootDir>/packages/cli-flags/src/index.ts',
    '^@retrace/agent$': '<rootDir>/agent/src/index.ts',
    '^@retrace/aggregator$': '<rootDir>/aggregator/src/index.ts',
    '^@retrace/operator$': '<rootDir>/operator/src/index.ts',
    '^@retrace/cli$': '<rootDir>/cli/src/index.ts',
    '^@retrace/e2e$': '<rootDir>/e2e/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: ['<rootDir>/**/test/**/*.test.ts', '<rootDir>/**/src/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  globalSetup: '<rootDir>/e2e/jest/global-setup.js',
  globalTeardown: '<rootDir>/e2e/jest/global-teardown.js',
  reporters: ['default', '<rootDir>/e2e/jest/summary-reporter.js'],
  testTimeout: 60000,
};
