export * from './lab/index.js';
