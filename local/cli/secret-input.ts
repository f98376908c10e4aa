/**
 * A secret for the operator CLI (`auth set-refresh-token`) comes from standard input, never from the command line,
 * which the shell history and the process list keep: all of a pipe or a file (`… < token.txt`), or one line typed
 * or pasted at a terminal, which is not echoed.
 */
import { UsageError } from './args.js';

/** Standard input as the reader needs it: a readable stream, with the terminal's raw mode when it is one. */
export interface SecretInputStream extends NodeJS.EventEmitter, AsyncIterable<string | Buffer> {
  readonly isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
  setEncoding(encoding: BufferEncoding): unknown;
  resume(): unknown;
  pause(): unknown;
}

/** Where the prompt goes: standard error, so that standard output stays the command's result. */
export interface PromptOutput {
  write(text: string): unknown;
}

/** The most a secret may be (a refresh token is at most a few KB). */
export const MAX_SECRET_INPUT_BYTES = 64 * 1024;

/** Key codes a terminal in raw mode sends. */
const KEY = { ctrlC: '\u0003', ctrlD: '\u0004', backspace: '\u007f', ctrlH: '\b' } as const;

/**
 * Reads the secret: from a terminal, the line typed after `prompt` (not echoed; Ctrl-C cancels); otherwise all of
 * standard input. Trailing line breaks are dropped (a file usually ends with one); anything else is kept for the
 * caller to check. @throws UsageError when the input is larger than {@link MAX_SECRET_INPUT_BYTES} or cancelled
 */
export async function readSecretInput(prompt: string, stdin: SecretInputStream, output: PromptOutput): Promise<string> {
  const text = stdin.isTTY && stdin.setRawMode ? await readFromTerminal(prompt, stdin, output) : await readAll(stdin);
  return text.replace(/[\r\n]+$/, '');
}

async function readAll(stdin: SecretInputStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    size += bytes.length;
    if (size > MAX_SECRET_INPUT_BYTES) throw new UsageError(`Standard input is larger than ${MAX_SECRET_INPUT_BYTES} bytes: pipe in the token only.`);
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function readFromTerminal(prompt: string, stdin: SecretInputStream, output: PromptOutput): Promise<string> {
  output.write(prompt);
  stdin.setRawMode!(true);
  stdin.setEncoding('utf8');
  return new Promise<string>((resolve, reject) => {
    let typed = '';
    const finish = (error?: Error) => {
      stdin.removeListener('data', onData);
      stdin.setRawMode!(false);
      stdin.pause();
      output.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: string | Buffer) => {
      // A paste arrives as one chunk: every character of it is a key.
      for (const char of String(chunk)) {
        if (char === KEY.ctrlC) return finish(new UsageError('Cancelled: nothing was written.'));
        if (char === '\r' || char === '\n' || char === KEY.ctrlD) return finish();
        if (char === KEY.backspace || char === KEY.ctrlH) typed = typed.slice(0, -1);
        else typed += char;
        if (typed.length > MAX_SECRET_INPUT_BYTES) return finish(new UsageError(`The input is longer than ${MAX_SECRET_INPUT_BYTES} characters.`));
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}
