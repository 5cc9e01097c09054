export * from './lab/index.js';
export * from './k8s/real-cluster.js';
