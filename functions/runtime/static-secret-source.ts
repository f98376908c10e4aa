/**
 * An in-memory {@link SecretSource}: secrets given as objects, e.g. by the local hub (which runs without AWS) and
 * by tests. Counts reads so callers can check caching, and supports rotation via {@link StaticSecretSource.set}.
 */
import { DependencyError } from './errors.js';
import type { WritableSecretSource } from './ports.js';

/** JSON secrets held in memory, keyed by secret name. */
export class StaticSecretSource implements WritableSecretSource {
  private readonly secrets = new Map<string, Record<string, unknown>>();
  private readonly readsByName = new Map<string, number>();
  private forced = 0;
  private writes = 0;

  constructor(secrets: Record<string, Record<string, unknown>> | ReadonlyMap<string, Record<string, unknown>> = {}) {
    const entries = secrets instanceof Map ? [...secrets.entries()] : Object.entries(secrets);
    for (const [name, value] of entries) this.set(name, value);
  }

  /** Every read (cached or forced); a static source has no cache of its own, so each call counts. */
  get reads(): number {
    let total = 0;
    for (const count of this.readsByName.values()) total += count;
    return total;
  }

  /** Reads that asked to bypass caches. */
  get forcedReads(): number {
    return this.forced;
  }

  /** Reads of one secret. */
  readsOf(secretName: string): number {
    return this.readsByName.get(secretName) ?? 0;
  }

  /** Adds or replaces (rotates) a secret. */
  set(secretName: string, value: Record<string, unknown>): void {
    this.secrets.set(secretName, structuredClone(value));
  }

  /** Writes through {@link StaticSecretSource.putJson} (a runtime storing rotated tokens). */
  get writeCount(): number {
    return this.writes;
  }

  /** Like Secrets Manager's PutSecretValue: a new version of an existing secret. */
  async putJson(secretName: string, value: Record<string, unknown>): Promise<void> {
    this.writes += 1;
    if (!this.secrets.has(secretName)) throw new DependencyError('SecretsManager', `Could not write secret '${secretName}': ResourceNotFoundException`);
    this.set(secretName, value);
  }

  /** Removes a secret; later reads fail like a missing secret in Secrets Manager. */
  delete(secretName: string): void {
    this.secrets.delete(secretName);
  }

  async getJson(secretName: string, options?: { forceFetch?: boolean }): Promise<Record<string, unknown>> {
    this.readsByName.set(secretName, this.readsOf(secretName) + 1);
    if (options?.forceFetch) this.forced += 1;
    const value = this.secrets.get(secretName);
    // Same class as the Secrets Manager adapter gives for a missing secret, so the local hub behaves like AWS.
    if (value === undefined) throw new DependencyError('SecretsManager', `Could not read secret '${secretName}': ResourceNotFoundException`);
    // A copy, so a caller cannot change the stored secret.
    return structuredClone(value);
  }
}
