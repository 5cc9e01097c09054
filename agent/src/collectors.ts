// The collectors live in collectors/ (one folder each, collectors/index.ts lists them). This
// module keeps the path agent/src/nft/nft-options.ts imports from until that file moves.
export { kernelCheck, type CollectorCheck } from './collectors/choose.js';
