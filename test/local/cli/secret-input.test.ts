/**
 * The CLI's secret reader (local/cli/secret-input.ts): all of a pipe, or one line at a terminal in raw mode that is
 * never echoed. The terminal is a fake stream that answers setRawMode like a TTY and emits what a user types.
 */
import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../local/cli/args.js';
import { MAX_SECRET_INPUT_BYTES, readSecretInput, type SecretInputStream } from '../../../local/cli/secret-input.js';

/** A terminal: raw mode recorded, keys emitted once the reader resumed the stream. */
class FakeTerminal extends EventEmitter implements SecretInputStream {
  readonly isTTY = true;
  readonly rawModes: boolean[] = [];
  paused = true;

  constructor(private readonly keys: readonly string[]) {
    super();
  }

  setRawMode(mode: boolean): this {
    this.rawModes.push(mode);
    return this;
  }

  setEncoding(): this {
    return this;
  }

  resume(): this {
    this.paused = false;
    queueMicrotask(() => {
      for (const key of this.keys) this.emit('data', key);
    });
    return this;
  }

  pause(): this {
    this.paused = true;
    return this;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    throw new Error('a terminal is not read to its end');
  }
}

function output() {
  let written = '';
  return { write: (text: string) => (written += text), text: () => written };
}

describe('from a pipe or a file', () => {
  it('reads all of it and drops the trailing line breaks only', async () => {
    const out = output();
    expect(await readSecretInput('prompt: ', Readable.from(['rt-', Buffer.from('abc'), '\r\n\n']), out)).toBe('rt-abc');
    expect(await readSecretInput('prompt: ', Readable.from([' rt abc ']), out)).toBe(' rt abc ');
    // No prompt: nobody is at a terminal to read it.
    expect(out.text()).toBe('');
  });

  it(`refuses more than ${MAX_SECRET_INPUT_BYTES} bytes`, async () => {
    const input = Readable.from(['x'.repeat(MAX_SECRET_INPUT_BYTES), 'y']);
    await expect(readSecretInput('prompt: ', input, output())).rejects.toThrow(UsageError);
  });
});

describe('from a terminal', () => {
  it('prompts on the output, reads one line in raw mode without echoing it, and restores the terminal', async () => {
    const terminal = new FakeTerminal(['rt-', 'abd', '\u007f', 'c', '\r', 'ignored after Enter']);
    const out = output();

    const secret = await readSecretInput('Refresh token for crm (input hidden, Enter to finish): ', terminal, out);

    expect(secret).toBe('rt-abc');
    expect(out.text()).toBe('Refresh token for crm (input hidden, Enter to finish): \n');
    expect(terminal.rawModes).toEqual([true, false]);
    expect(terminal.paused).toBe(true);
    expect(terminal.listenerCount('data')).toBe(0);
  });

  it('takes a paste arriving as one chunk with its line break', async () => {
    expect(await readSecretInput('p: ', new FakeTerminal(['1//pasted.token-value\n']), output())).toBe('1//pasted.token-value');
  });

  it('cancels on Ctrl-C with a UsageError and restores the terminal', async () => {
    const terminal = new FakeTerminal(['rt-half', '\u0003']);
    await expect(readSecretInput('p: ', terminal, output())).rejects.toThrow(new UsageError('Cancelled: nothing was written.'));
    expect(terminal.rawModes).toEqual([true, false]);
  });

  it('ends on Ctrl-D like Enter', async () => {
    expect(await readSecretInput('p: ', new FakeTerminal(['rt-1', '\u0004']), output())).toBe('rt-1');
  });
});
