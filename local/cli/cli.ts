/**
 * The operator CLI as a function: command line in, text out, exit code back. `hub.ts` runs it with the process's
 * streams and the real operators; tests run it in-process with a fake operator.
 *
 * Order matters for the operator: the command line and its input (the detail of `send`, the refresh token on
 * standard input) are checked before any hub is contacted, so a typo never needs credentials and never touches the hub.
 */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseCommandLine, type TargetOptions, UsageError } from './args.js';
import { executeCommand, prepareCommand, type PrepareContext } from './commands.js';
import { type HubOperator, OperatorError } from './hub-operator.js';
import { readSecretInput } from './secret-input.js';

/** Where the CLI writes (process.stdout / process.stderr, or a test's collector). */
export interface CliIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

/** Builds the operator of the chosen target; may throw an OperatorError (e.g. no local hub running). */
export type OperatorFactory = (target: TargetOptions) => HubOperator | Promise<HubOperator>;

/** Exit codes of the CLI. */
export const ExitCode = {
  /** Done. */
  ok: 0,
  /** The hub refused or failed the operation (unknown integration, circuit open, no credentials, …). */
  failed: 1,
  /** The command line or its input is wrong; nothing was sent to a hub. */
  usage: 2,
} as const;

/** Runs one CLI invocation (`argv` = the arguments after `npm run hub --`) and resolves with its exit code. Never throws. */
export async function runCli(argv: readonly string[], io: CliIo, createOperator: OperatorFactory, context: Partial<PrepareContext> = {}): Promise<number> {
  const json = argv.includes('--json');
  try {
    const parsed = parseCommandLine(argv);
    if (parsed.kind === 'help') {
      io.stdout.write(parsed.text);
      return ExitCode.ok;
    }
    const command = await prepareCommand(parsed.invocation, {
      cwd: context.cwd ?? process.cwd(),
      readFile: context.readFile ?? ((path) => readFileSync(path, 'utf8')),
      user: context.user ?? currentUser(),
      readSecret: context.readSecret ?? ((prompt) => readSecretInput(prompt, process.stdin, io.stderr)),
    });
    const operator = await createOperator(parsed.target);
    const output = await executeCommand(operator, command);
    io.stdout.write(`${parsed.json ? JSON.stringify(output.result, null, 2) : output.text}\n`);
    return output.ok === false ? ExitCode.failed : ExitCode.ok;
  } catch (error) {
    return report(error, io, json);
  }
}

function report(error: unknown, io: CliIo, json: boolean): number {
  const code = error instanceof UsageError ? ExitCode.usage : ExitCode.failed;
  if (json) {
    const name = error instanceof Error ? error.name : 'Error';
    const fields = error instanceof OperatorError ? Object.fromEntries(Object.entries(error).filter(([key]) => key !== 'usage' && key !== 'name')) : {};
    io.stderr.write(`${JSON.stringify({ error: { ...fields, name, message: error instanceof Error ? error.message : String(error) } }, null, 2)}\n`);
    return code;
  }
  if (error instanceof UsageError) {
    io.stderr.write(`error: ${error.message}\n${error.usage ? `\n${error.usage}` : ''}`);
  } else if (error instanceof OperatorError) {
    io.stderr.write(`error: ${error.message}\n`);
  } else {
    // Not an OperatorError: a bug of the CLI or of an adapter. The stack helps whoever fixes it.
    io.stderr.write(`unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
  return code;
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    // userInfo throws for a uid without a passwd entry (some containers).
    return process.env.USER ?? 'an operator';
  }
}
