// The unit tier: every test that needs neither root nor a kernel, as any user (`npm run
// test:unit`, `make test-unit`). Tests that load BPF, make namespaces, mounts or nft tables are
// named *.kernel.test.ts; e2e/ holds the multi-process scenarios. `./run test` runs all tiers.
import base from './jest.config.js';

export default {
  ...base,
  // No root check, no lab clean-up, no test API server: nothing here touches the kernel.
  globalSetup: undefined,
  globalTeardown: undefined,
  testPathIgnorePatterns: [...base.testPathIgnorePatterns, '<rootDir>/e2e/', '\\.kernel\\.test\\.ts$'],
  // Every core: these tests do not share the kernel's state, so they may run side by side.
  maxWorkers: '100%',
};
