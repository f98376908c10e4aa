/**
 * Serves the webhook benchmark's two servers (webhooks-servers.ts) in a process of their own, so the load generator's
 * CPU and event loop are not theirs. Reads its settings from WEBHOOKS_SERVER_OPTIONS (JSON
 * {@link EndpointServerOptions}); sends one IPC message `{ endpointUrl, baselineUrl }` when ready, answers
 * `{ type: 'cpu' }` with its process.cpuUsage() and serves until its parent goes away. Its stdout carries the
 * endpoint's log lines and EMF metrics, as a Lambda's would: the parent discards it.
 */
import { type EndpointServerOptions, startBaselineServer, startEndpointServer } from './webhooks-servers.js';

const options = JSON.parse(process.env.WEBHOOKS_SERVER_OPTIONS ?? 'null') as EndpointServerOptions | null;
if (!options) throw new Error('WEBHOOKS_SERVER_OPTIONS is required');
const [endpoint, baseline] = await Promise.all([startEndpointServer(options), startBaselineServer()]);
// The parent attributes CPU time per delivery to this process (see bench/webhooks.ts).
process.on('message', (message: { type?: string }) => {
  if (message.type === 'cpu') process.send?.({ type: 'cpu', ...process.cpuUsage() });
});
process.send?.({ endpointUrl: endpoint.url, baselineUrl: baseline.url });
const stop = async () => {
  await Promise.allSettled([endpoint.close(), baseline.close()]);
  process.exit(0);
};
process.on('disconnect', stop);
process.on('SIGTERM', stop);
