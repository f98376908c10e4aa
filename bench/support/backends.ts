import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Endpoints of the benchmark's backend process. */
export interface Backends {
  dynamoEndpoint: string;
  sandboxUrl: string;
  crmUrl: string;
  crmCredentials: { clientId: string; clientSecret: string };
  stop(): Promise<void>;
}

/** Starts dynalite + the sandbox (with `latencyMs` per call) in a child process. */
export async function startBackends(latencyMs: number): Promise<Backends> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./backend-process.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, SANDBOX_LATENCY_MS: String(latencyMs), AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING: '1' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const info = await new Promise<Omit<Backends, 'stop'>>((resolve, reject) => {
    child.once('message', (message) => resolve(message as Omit<Backends, 'stop'>));
    child.once('exit', (code) => reject(new Error(`backend process exited early with code ${code}`)));
  });
  return {
    ...info,
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      await exited;
    },
  };
}
