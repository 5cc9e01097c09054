// @retrace/cli: the commands are its product (bin/); what other packages (e2e) may use of it.
export { QueryClient, QueryError } from './cluster/query-client.js';
export { LineWriter } from './output/line-writer.js';
