/**
 * Child processes of the webhook benchmark (webhooks-aws-process.ts, webhooks-server-process.ts): forked with tsx,
 * ready when they send their first IPC message, stopped by disconnecting (they exit on `disconnect`).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A running child and what it reported when ready. */
export interface BenchChild<Info> {
  readonly info: Info;
  /** Sends `{ type }` and resolves with the child's next message of that type. */
  ask<Answer>(type: string): Promise<Answer>;
  stop(): Promise<void>;
}

/** Forks `file` (next to this one); with `discardStdout` its stdout goes nowhere (log lines, EMF). */
export async function forkBenchChild<Info>(file: string, env: Record<string, string>, discardStdout = false): Promise<BenchChild<Info>> {
  const child: ChildProcess = fork(fileURLToPath(new URL(file, import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', discardStdout ? 'ignore' : 'inherit', 'inherit', 'ipc'],
  });
  const info = await new Promise<Info>((resolve, reject) => {
    child.once('message', (message) => resolve(message as Info));
    child.once('exit', (code) => reject(new Error(`${file} exited early with code ${code}`)));
  });
  return {
    info,
    ask: <Answer>(type: string) =>
      new Promise<Answer>((resolve) => {
        const listener = (message: { type?: string }) => {
          if (message?.type !== type) return;
          child.off('message', listener);
          resolve(message as Answer);
        };
        child.on('message', listener);
        child.send({ type });
      }),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect();
      await exited;
    },
  };
}
