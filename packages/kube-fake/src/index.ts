// @retrace/kube-fake: an in-process Kubernetes API server for tests. See README.md.
export { FakeApiServer, UnknownKindError, type StartOptions } from './server.js';
export type { RequestRecord } from './http.js';
export type { KubeObject, ObjectMeta } from './json.js';
export { StatusError } from './errors.js';
