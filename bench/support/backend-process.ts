/**
 * Runs dynalite and the sandbox APIs in a process of their own, so the benchmark process measures only the
 * handler's CPU. Prints one JSON line with the endpoints, then serves until its parent goes away.
 */
import { startSandbox } from '../../local/sandbox/index.js';
import { startLocalDynamo } from '../../local/local-dynamo.js';

const latencyMs = Number(process.env.SANDBOX_LATENCY_MS ?? '50');
const [dynamo, sandbox] = await Promise.all([startLocalDynamo(), startSandbox({ seed: 1, latencyMs })]);
process.send?.({
  dynamoEndpoint: dynamo.endpoint,
  sandboxUrl: sandbox.baseUrl,
  crmUrl: sandbox.providerUrl('crm'),
  crmCredentials: sandbox.credentials('crm'),
});
const stop = async () => {
  await Promise.allSettled([dynamo.close(), sandbox.close()]);
  process.exit(0);
};
process.on('disconnect', stop);
process.on('SIGTERM', stop);
