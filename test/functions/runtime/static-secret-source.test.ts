import { describe, expect, it } from 'vitest';
import { DependencyError } from '../../../functions/runtime/errors.js';
import { StaticSecretSource } from '../../../functions/runtime/static-secret-source.js';
import { rejectionOf } from './http-test-kit.js';

describe('StaticSecretSource', () => {
  it('serves secrets given as an object or a map', async () => {
    expect(await new StaticSecretSource({ a: { token: 't' } }).getJson('a')).toEqual({ token: 't' });
    expect(await new StaticSecretSource(new Map([['b', { apiKey: 'k' }]])).getJson('b')).toEqual({ apiKey: 'k' });
  });

  it('counts reads, per secret and forced', async () => {
    const source = new StaticSecretSource({ a: { token: 't' }, b: { token: 'u' } });
    await source.getJson('a');
    await source.getJson('a', { forceFetch: true });
    await source.getJson('b');

    expect(source.reads).toBe(3);
    expect(source.readsOf('a')).toBe(2);
    expect(source.forcedReads).toBe(1);
  });

  it('rotates a secret with set()', async () => {
    const source = new StaticSecretSource({ a: { token: 'old' } });
    source.set('a', { token: 'new' });
    expect(await source.getJson('a')).toEqual({ token: 'new' });
  });

  it('fails like a missing Secrets Manager secret (transient DependencyError) for an unknown or deleted name', async () => {
    const source = new StaticSecretSource({ a: { token: 't' } });
    source.delete('a');
    for (const name of ['a', 'nope']) {
      const error = await rejectionOf(source.getJson(name));
      expect(error).toBeInstanceOf(DependencyError);
      expect(error).toMatchObject({ errorClass: 'SecretsManagerUnavailable' });
    }
  });

  it('hands out copies, so callers cannot change the stored secret', async () => {
    const given = { token: 't' };
    const source = new StaticSecretSource({ a: given });
    given.token = 'changed-by-caller';
    const read = await source.getJson('a');
    read.token = 'changed-by-reader';
    expect(await source.getJson('a')).toEqual({ token: 't' });
  });
});
