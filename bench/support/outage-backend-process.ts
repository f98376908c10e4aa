/**
 * One backend of the outage benchmark in a process of its own (OUTAGE_BACKEND=dynamo | sandbox): dynalite is
 * single-threaded and, under the hub's write load, would otherwise delay the sandbox's answers (turning them into
 * client timeouts that no real provider would cause). Sends its endpoint to the parent, then serves until the
 * parent goes away.
 */
import { startLocalDynamo } from '../../local/local-dynamo.js';
import { startSandbox } from '../../local/sandbox/index.js';

const role = process.env.OUTAGE_BACKEND;
let close: () => Promise<void>;
if (role === 'dynamo') {
  const dynamo = await startLocalDynamo();
  close = () => dynamo.close();
  process.send?.({ endpoint: dynamo.endpoint });
} else if (role === 'sandbox') {
  const sandbox = await startSandbox({ seed: 1, latencyMs: Number(process.env.SANDBOX_LATENCY_MS ?? '20') });
  close = () => sandbox.close();
  process.send?.({ endpoint: sandbox.baseUrl });
} else {
  throw new Error(`OUTAGE_BACKEND must be dynamo or sandbox, got ${JSON.stringify(role)}`);
}
const stop = async () => {
  await close().catch(() => undefined);
  process.exit(0);
};
process.on('disconnect', stop);
process.on('SIGTERM', stop);
