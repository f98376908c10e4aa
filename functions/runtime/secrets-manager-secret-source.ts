/**
 * {@link SecretSource} on AWS Secrets Manager, through Powertools' SecretsProvider (which caches per secret for
 * `maxAge`). SDK failures are translated here, at the adapter boundary; secret values never reach an error.
 */
import { GetParameterError, TransformParameterError } from '@aws-lambda-powertools/parameters/errors';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DependencyError, InvalidCredentialsError } from './errors.js';
import type { WritableSecretSource } from './ports.js';

/** Options of {@link SecretsManagerSecretSource}. */
export interface SecretsManagerSecretSourceOptions {
  /** A preconfigured client (tests pass one wrapped by aws-sdk-client-mock). @default a new SecretsManagerClient */
  readonly client?: SecretsManagerClient;
  /** How long a secret is served from memory before it is read again. @default 300 */
  readonly maxAgeSeconds?: number;
}

/**
 * Reads JSON secrets from Secrets Manager, cached for `maxAgeSeconds`; `forceFetch` bypasses the cache. Writes a new
 * version with PutSecretValue (the OAuth refresh-token scheme stores rotated tokens; only its functions are granted it).
 */
export class SecretsManagerSecretSource implements WritableSecretSource {
  private readonly provider: SecretsProvider;
  private readonly client: SecretsManagerClient;
  private readonly maxAgeSeconds: number;
  /** Concurrent reads of an uncached secret share one GetSecretValue (Powertools does not single-flight). */
  private readonly inFlight = new Map<string, Promise<Record<string, unknown>>>();

  constructor(options: SecretsManagerSecretSourceOptions = {}) {
    this.client = options.client ?? new SecretsManagerClient({});
    this.provider = new SecretsProvider({ awsSdkV3Client: this.client });
    this.maxAgeSeconds = options.maxAgeSeconds ?? 300;
  }

  getJson(secretName: string, options?: { forceFetch?: boolean }): Promise<Record<string, unknown>> {
    const forceFetch = options?.forceFetch === true;
    const pending = this.inFlight.get(secretName);
    if (pending && !forceFetch) return pending;

    const read = this.read(secretName, forceFetch);
    this.inFlight.set(secretName, read);
    const clear = () => {
      if (this.inFlight.get(secretName) === read) this.inFlight.delete(secretName);
    };
    read.then(clear, clear);
    return read;
  }

  async putJson(secretName: string, value: Record<string, unknown>): Promise<void> {
    try {
      await this.client.send(new PutSecretValueCommand({ SecretId: secretName, SecretString: JSON.stringify(value) }));
    } catch (error) {
      // The error names the secret and the SDK error class, never the value.
      throw new DependencyError('SecretsManager', `Could not write secret '${secretName}': ${errorName(error)}`, { cause: error });
    }
  }

  private async read(secretName: string, forceFetch: boolean): Promise<Record<string, unknown>> {
    let value: unknown;
    try {
      value = await this.provider.get(secretName, { transform: 'json', maxAge: this.maxAgeSeconds, forceFetch });
    } catch (error) {
      if (error instanceof TransformParameterError) {
        // No cause: the JSON.parse message inside quotes the start of the secret value.
        throw new InvalidCredentialsError(`Secret '${secretName}' is not valid JSON`);
      }
      // Not found, access denied, KMS decryption failures, throttling, outages — all transient on purpose. A missing
      // or unreadable secret is a deployment/configuration problem that an operator fixes without touching the
      // messages: as a permanent error it would send every message of the integration to the DLQ at full speed and
      // mark every entity sync_failed. As a transient one the messages stay in the queue (the redrive policy still
      // dead-letters them after maxReceiveCount), CallFailed{errorClass=SecretsManagerUnavailable} and the queue-age
      // alarm show it, and they go through once the secret exists.
      const sdkError = error instanceof GetParameterError && error.cause !== undefined ? error.cause : error;
      throw new DependencyError('SecretsManager', `Could not read secret '${secretName}': ${errorName(sdkError)}`, { cause: sdkError });
    }
    if (value === undefined || value === null) throw new InvalidCredentialsError(`Secret '${secretName}' has no value`);
    if (typeof value !== 'object' || Array.isArray(value)) throw new InvalidCredentialsError(`Secret '${secretName}' is not a JSON object`);
    return value as Record<string, unknown>;
  }
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'unknown error';
}
