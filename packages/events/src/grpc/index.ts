export { AgentLinkService, QueryService, PROTOCOL_VERSION } from './services.js';
export { serverCredentials, channelCredentials, CertificateError, type TlsFiles } from './credentials.js';
