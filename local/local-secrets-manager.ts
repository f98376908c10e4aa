/**
 * A Secrets Manager client answered from memory, so the real adapter (Powertools SecretsProvider with its cache)
 * runs unchanged on this machine. Secrets Manager has no local emulator; aws-sdk-client-mock stands in for the
 * service behind an otherwise real SDK client.
 */
import { GetSecretValueCommand, InternalServiceError, PutSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';

/** An in-memory Secrets Manager: a real client, answered locally, counting GetSecretValue calls. */
export interface LocalSecretsManager {
  readonly client: SecretsManagerClient;
  /** Creates or rotates a secret (JSON). */
  put(secretName: string, value: Record<string, unknown>): void;
  /** True when a secret of that name exists (the local hub checks every function's SECRET_NAME at start). */
  has(secretName: string): boolean;
  /** A secret's JSON value, or undefined (the local hub hands webhook signing secrets to the sandbox's senders). */
  get(secretName: string): Record<string, unknown> | undefined;
  /** GetSecretValue calls so far, of one secret or all. */
  getSecretValueCalls(secretName?: string): number;
  /** PutSecretValue calls so far (the runtime storing rotated OAuth tokens), of one secret or all. */
  putSecretValueCalls(secretName?: string): number;
  /** Unavailable: every GetSecretValue and PutSecretValue fails with the service's InternalServiceError (local/hub/hub-faults.ts). */
  setAvailable(available: boolean): void;
}

/** Starts an in-memory Secrets Manager with the given JSON secrets. */
export function createLocalSecretsManager(initial: Record<string, Record<string, unknown>> = {}): LocalSecretsManager {
  const secrets = new Map(Object.entries(initial).map(([name, value]) => [name, JSON.stringify(value)]));
  const calls = new Map<string, number>();
  const puts = new Map<string, number>();
  let available = true;
  const unavailable = () => new InternalServiceError({ message: 'An error occurred on the server side (fault injection).', $metadata: { httpStatusCode: 500 } });
  const notFound = () => new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} });
  const count = (map: Map<string, number>, name?: string) => (name === undefined ? [...map.values()].reduce((a, b) => a + b, 0) : (map.get(name) ?? 0));
  const client = new SecretsManagerClient({ region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  mockClient(client)
    .on(GetSecretValueCommand)
    .callsFake((input: { SecretId?: string }) => {
      const name = input.SecretId ?? '';
      calls.set(name, (calls.get(name) ?? 0) + 1);
      if (!available) throw unavailable();
      const value = secrets.get(name);
      if (value === undefined) throw notFound();
      return { Name: name, SecretString: value, VersionId: `v${calls.get(name)}` };
    })
    .on(PutSecretValueCommand)
    .callsFake((input: { SecretId?: string; SecretString?: string }) => {
      const name = input.SecretId ?? '';
      puts.set(name, count(puts, name) + 1);
      if (!available) throw unavailable();
      // PutSecretValue adds a version to an existing secret; it does not create one.
      if (!secrets.has(name)) throw notFound();
      secrets.set(name, input.SecretString ?? '');
      return { Name: name, VersionId: `p${count(puts, name)}` };
    });
  return {
    client,
    put: (name, value) => void secrets.set(name, JSON.stringify(value)),
    has: (name) => secrets.has(name),
    get: (name) => {
      const value = secrets.get(name);
      return value === undefined ? undefined : (JSON.parse(value) as Record<string, unknown>);
    },
    setAvailable: (value) => {
      available = value;
    },
    getSecretValueCalls: (name) => count(calls, name),
    putSecretValueCalls: (name) => count(puts, name),
  };
}
