import { Logger } from '@aws-lambda-powertools/logger';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { recordLogger } from '../../../functions/runtime/telemetry.js';

/** The JSON lines a Logger built inside `work` writes (it writes to process.stdout / stderr through its own Console). */
function linesOf(work: (root: Logger) => void): Record<string, unknown>[] {
  const written: string[] = [];
  const capture = (chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  work(new Logger({ serviceName: 'integration-hub', logLevel: 'DEBUG', persistentKeys: { integration: 'crm' } }));
  vi.restoreAllMocks();
  return written.join('').split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('recordLogger', () => {
  afterEach(() => vi.restoreAllMocks());

  it('writes every level through the root with the record keys, the root keys and the line attributes', () => {
    const lines = linesOf((root) => {
      const log = recordLogger(root, { correlationId: 'c-1', messageId: 'm-1' });
      log.debug('one');
      log.info('two', { extra: 2 });
      log.warn({ message: 'three', detail: 'd' });
      log.error('four', new Error('boom'));
    });
    expect(lines.map((line) => [line.level, line.message])).toEqual([
      ['DEBUG', 'one'],
      ['INFO', 'two'],
      ['WARN', 'three'],
      ['ERROR', 'four'],
    ]);
    for (const line of lines) expect(line).toMatchObject({ integration: 'crm', correlationId: 'c-1', messageId: 'm-1', service: 'integration-hub' });
    expect(lines[1]).toMatchObject({ extra: 2 });
    expect(lines[2]).toMatchObject({ detail: 'd' });
    expect((lines[3]?.error as { message?: string } | undefined)?.message).toBe('boom');
  });

  it('keeps appended keys to its own record: concurrent records and the root are not touched', () => {
    const lines = linesOf((root) => {
      const first = recordLogger(root, { correlationId: 'c-1' });
      const second = recordLogger(root, { correlationId: 'c-2' });
      first.info('before');
      first.appendKeys({ idempotencyKey: 'crm:f-1' });
      second.info('other record');
      first.info('after');
      root.info('root');
    });
    expect(lines[0]).not.toHaveProperty('idempotencyKey');
    expect(lines[1]).toMatchObject({ correlationId: 'c-2' });
    expect(lines[1]).not.toHaveProperty('idempotencyKey');
    expect(lines[2]).toMatchObject({ correlationId: 'c-1', idempotencyKey: 'crm:f-1' });
    expect(lines[3]).not.toHaveProperty('correlationId');
  });

  it('lets a line\'s own attributes win over the record keys', () => {
    const [line] = linesOf((root) => recordLogger(root, { probe: true, correlationId: 'c-1' }).info('x', { correlationId: 'override' }));
    expect(line).toMatchObject({ probe: true, correlationId: 'override' });
  });
});
