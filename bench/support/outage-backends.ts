/**
 * Starts dynalite and the sandbox in two child processes (outage-backend-process.ts), off the process that runs
 * the simulated instances and off each other.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ScenarioBackends } from './outage-scenario.js';

/** The two backends, and how to stop them. */
export interface OutageBackends extends ScenarioBackends {
  stop(): Promise<void>;
}

/** Starts both backends; the sandbox adds `sandboxLatencyMs` to every request. */
export async function startOutageBackends(sandboxLatencyMs: number): Promise<OutageBackends> {
  const [dynamo, sandbox] = await Promise.all([start('dynamo', sandboxLatencyMs), start('sandbox', sandboxLatencyMs)]);
  return {
    dynamoEndpoint: dynamo.endpoint,
    sandboxUrl: sandbox.endpoint,
    stop: async () => {
      await Promise.all([dynamo.stop(), sandbox.stop()]);
    },
  };
}

async function start(role: 'dynamo' | 'sandbox', sandboxLatencyMs: number): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./outage-backend-process.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, OUTAGE_BACKEND: role, SANDBOX_LATENCY_MS: String(sandboxLatencyMs), AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING: '1' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const { endpoint } = await new Promise<{ endpoint: string }>((resolve, reject) => {
    child.once('message', (message) => resolve(message as { endpoint: string }));
    child.once('exit', (code) => reject(new Error(`${role} backend process exited early with code ${code}`)));
  });
  return {
    endpoint,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      await exited;
    },
  };
}
