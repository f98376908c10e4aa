import {
  DecryptionFailure,
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DependencyError, InvalidCredentialsError } from '../../../functions/runtime/errors.js';
import { SecretsManagerSecretSource } from '../../../functions/runtime/secrets-manager-secret-source.js';
import { rejectionOf, serializeError } from './http-test-kit.js';

const client = new SecretsManagerClient({});
const sm = mockClient(client);

beforeEach(() => {
  sm.reset();
});

function getCalls() {
  return sm.commandCalls(GetSecretValueCommand);
}

describe('SecretsManagerSecretSource', () => {
  it('reads and parses a JSON secret by name', async () => {
    sm.on(GetSecretValueCommand, { SecretId: 'crm/api' }).resolves({ SecretString: '{"apiKey":"k-1"}' });

    expect(await new SecretsManagerSecretSource({ client }).getJson('crm/api')).toEqual({ apiKey: 'k-1' });
    expect(getCalls()[0]?.args[0].input).toMatchObject({ SecretId: 'crm/api' });
  });

  it('serves many reads from one GetSecretValue while the cache is fresh', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: '{"token":"t"}' });
    const source = new SecretsManagerSecretSource({ client });

    for (let i = 0; i < 20; i += 1) await source.getJson('crm/api');

    expect(getCalls()).toHaveLength(1);
  });

  it('shares one GetSecretValue among concurrent first reads', async () => {
    sm.on(GetSecretValueCommand).callsFake(async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { SecretString: '{"token":"t"}' };
    });
    const source = new SecretsManagerSecretSource({ client });

    const results = await Promise.all(Array.from({ length: 10 }, () => source.getJson('crm/api')));

    expect(results.every((r) => r.token === 't')).toBe(true);
    expect(getCalls()).toHaveLength(1);
  });

  it('reads again when forced, and serves the new value from then on', async () => {
    sm.on(GetSecretValueCommand).resolvesOnce({ SecretString: '{"token":"old"}' }).resolves({ SecretString: '{"token":"new"}' });
    const source = new SecretsManagerSecretSource({ client });

    expect(await source.getJson('s')).toEqual({ token: 'old' });
    expect(await source.getJson('s', { forceFetch: true })).toEqual({ token: 'new' });
    expect(await source.getJson('s')).toEqual({ token: 'new' });
    expect(getCalls()).toHaveLength(2);
  });

  it('caches per secret name', async () => {
    sm.on(GetSecretValueCommand).callsFake(async (input: { SecretId?: string }) => ({ SecretString: JSON.stringify({ name: input.SecretId }) }));
    const source = new SecretsManagerSecretSource({ client });

    expect(await source.getJson('a')).toEqual({ name: 'a' });
    expect(await source.getJson('b')).toEqual({ name: 'b' });
    await source.getJson('a');
    expect(getCalls()).toHaveLength(2);
  });

  it('does not cache when maxAgeSeconds is 0', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: '{"token":"t"}' });
    const source = new SecretsManagerSecretSource({ client, maxAgeSeconds: 0 });

    await source.getJson('s');
    await source.getJson('s');

    expect(getCalls()).toHaveLength(2);
  });

  it('decodes a binary JSON secret', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretBinary: new TextEncoder().encode('{"token":"bin"}') });
    expect(await new SecretsManagerSecretSource({ client }).getJson('s')).toEqual({ token: 'bin' });
  });

  it.each([
    ['a missing secret', new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} }), 'ResourceNotFoundException'],
    ['access denied', new SecretsManagerServiceException({ name: 'AccessDeniedException', $fault: 'client', message: 'not authorized', $metadata: {} }), 'AccessDeniedException'],
    ['a KMS decryption failure', new DecryptionFailure({ message: 'kms', $metadata: {} }), 'DecryptionFailure'],
    ['a network failure', Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }), 'TimeoutError'],
  ])('translates %s into a transient DependencyError that keeps the SDK error as cause', async (_, sdkError, name) => {
    sm.on(GetSecretValueCommand).rejects(sdkError);

    const error = await rejectionOf(new SecretsManagerSecretSource({ client }).getJson('crm/api'));

    expect(error).toBeInstanceOf(DependencyError);
    expect(error).toMatchObject({ errorClass: 'SecretsManagerUnavailable', category: 'transient' });
    expect((error as Error).message).toBe(`Could not read secret 'crm/api': ${name}`);
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(((error as Error).cause as Error).name).toBe(name);
  });

  it('does not cache a failure', async () => {
    sm.on(GetSecretValueCommand)
      .rejectsOnce(new ResourceNotFoundException({ message: 'missing', $metadata: {} }))
      .resolves({ SecretString: '{"token":"t"}' });
    const source = new SecretsManagerSecretSource({ client });

    await rejectionOf(source.getJson('s'));
    expect(await source.getJson('s')).toEqual({ token: 't' });
  });

  it('rejects a value that is not JSON as InvalidCredentialsError without quoting it', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'hunter2-plaintext-password' });

    const error = await rejectionOf(new SecretsManagerSecretSource({ client }).getJson('s'));

    expect(error).toBeInstanceOf(InvalidCredentialsError);
    expect((error as Error).message).toBe("Secret 's' is not valid JSON");
    expect(serializeError(error)).not.toContain('hunter2');
  });

  it.each([
    ['an array', '["a"]'],
    ['a string', '"just-a-string"'],
    ['null', 'null'],
  ])('rejects a JSON value that is %s as InvalidCredentialsError', async (_, value) => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: value });
    const error = await rejectionOf(new SecretsManagerSecretSource({ client }).getJson('s'));
    expect(error).toBeInstanceOf(InvalidCredentialsError);
    expect(serializeError(error)).not.toContain('just-a-string');
  });
});
