export { AgentLinkService, QueryService, ControlService, PROTOCOL_VERSION } from './services.js';
export {
  serverCredentials,
  channelCredentials,
  CertificateError,
  type TlsFiles,
  type ServerTlsOptions,
} from './credentials.js';
export { startHealthServer, type HealthServerOptions, type MetricsSource } from './health-server.js';
export { raiseServerReceiveWindow, ReceiveWindowError } from './receive-window.js';
