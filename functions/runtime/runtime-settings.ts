import { ConfigurationError } from './errors.js';
import type { ConnectionDefaults } from './integration-definition.js';

/** The settings of one integration's runtime, resolved once at init. */
export interface RuntimeSettings {
  /** The provider's base URL; request paths are appended. */
  baseUrl: string;
  /** Secrets Manager name or ARN of the provider credentials (absent for auth scheme `none`). */
  secretName?: string;
  /** How long a fetched secret is reused before it is read again. */
  secretMaxAgeSeconds: number;
  http: {
    timeoutMs: number;
    maxAttempts: number;
    baseDelayMs: number;
    maxDelayMs: number;
    /** Lambda time kept in reserve after the call for the ledger write and the batch response. */
    safetyMarginMs: number;
  };
  /** Records of one batch processed at the same time. */
  recordConcurrency: number;
  /** How long a completed operation is remembered for duplicate deliveries. */
  idempotencyTtlSeconds: number;
  /** Random extra delay, up to this, added to a parked message's return so the backlog does not return at once. */
  parkJitterSeconds: number;
  ledgerTableName: string;
  circuitsTableName: string;
  deadLetterQueueUrl: string;
}

/** Defaults for what deployment configuration may leave out. */
export const DEFAULT_SETTINGS = {
  secretMaxAgeSeconds: 300,
  http: { timeoutMs: 5000, maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 5000, safetyMarginMs: 1000 },
  recordConcurrency: 10,
  // A duplicate can arrive for as long as SQS keeps a message; a day covers redeliveries and same-day redrives.
  idempotencyTtlSeconds: 24 * 60 * 60,
  parkJitterSeconds: 10,
} as const;

/** The environment variables the runtime reads (set by the CDK stack from the catalog). */
export const SETTINGS_ENVIRONMENT = {
  BASE_URL: 'provider base URL (required)',
  SECRET_NAME: 'Secrets Manager secret name or ARN (required unless auth is none)',
  LEDGER_TABLE_NAME: 'sync ledger table (required)',
  CIRCUITS_TABLE_NAME: 'circuits table (required)',
  DLQ_URL: 'URL of the integration DLQ (required)',
  HTTP_TIMEOUT_MS: `per-attempt timeout (default adapter's, else ${DEFAULT_SETTINGS.http.timeoutMs})`,
  HTTP_MAX_ATTEMPTS: `attempts per delivery (default adapter's, else ${DEFAULT_SETTINGS.http.maxAttempts})`,
  HTTP_BASE_DELAY_MS: `backoff base (default ${DEFAULT_SETTINGS.http.baseDelayMs})`,
  HTTP_MAX_DELAY_MS: `backoff cap (default ${DEFAULT_SETTINGS.http.maxDelayMs})`,
  HTTP_SAFETY_MARGIN_MS: `time kept in reserve (default ${DEFAULT_SETTINGS.http.safetyMarginMs})`,
  RECORD_CONCURRENCY: `records in flight per batch (default ${DEFAULT_SETTINGS.recordConcurrency})`,
  SECRET_MAX_AGE_SECONDS: `secret cache age (default ${DEFAULT_SETTINGS.secretMaxAgeSeconds})`,
  IDEMPOTENCY_TTL_SECONDS: `duplicate window (default ${DEFAULT_SETTINGS.idempotencyTtlSeconds})`,
  PARK_JITTER_SECONDS: `parking jitter (default ${DEFAULT_SETTINGS.parkJitterSeconds})`,
} as const;

/**
 * Reads the settings from the environment once, reporting every problem at once (handbook §5.7).
 * Adapter connection defaults fill what the environment leaves out.
 */
export function settingsFromEnvironment(
  env: Record<string, string | undefined>,
  connection: ConnectionDefaults,
): RuntimeSettings {
  const problems: string[] = [];
  const required = (name: keyof typeof SETTINGS_ENVIRONMENT): string => {
    const value = env[name]?.trim();
    if (!value) problems.push(`${name} is required: ${SETTINGS_ENVIRONMENT[name]}`);
    return value ?? '';
  };
  const integer = (name: keyof typeof SETTINGS_ENVIRONMENT, fallback: number, min: number, max: number): number => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return value;
  };

  const baseUrl = required('BASE_URL');
  if (baseUrl && !/^https?:\/\//.test(baseUrl)) problems.push(`BASE_URL must be an http(s) URL, got ${JSON.stringify(baseUrl)}`);
  const secretName = connection.auth.scheme === 'none' ? env.SECRET_NAME?.trim() || undefined : required('SECRET_NAME');
  const settings: RuntimeSettings = {
    baseUrl,
    secretName,
    secretMaxAgeSeconds: integer('SECRET_MAX_AGE_SECONDS', DEFAULT_SETTINGS.secretMaxAgeSeconds, 0, 86_400),
    http: {
      timeoutMs: integer('HTTP_TIMEOUT_MS', connection.timeoutMs ?? DEFAULT_SETTINGS.http.timeoutMs, 100, 900_000),
      maxAttempts: integer('HTTP_MAX_ATTEMPTS', connection.maxAttempts ?? DEFAULT_SETTINGS.http.maxAttempts, 1, 20),
      baseDelayMs: integer('HTTP_BASE_DELAY_MS', DEFAULT_SETTINGS.http.baseDelayMs, 1, 60_000),
      maxDelayMs: integer('HTTP_MAX_DELAY_MS', DEFAULT_SETTINGS.http.maxDelayMs, 1, 300_000),
      safetyMarginMs: integer('HTTP_SAFETY_MARGIN_MS', DEFAULT_SETTINGS.http.safetyMarginMs, 0, 60_000),
    },
    recordConcurrency: integer('RECORD_CONCURRENCY', DEFAULT_SETTINGS.recordConcurrency, 1, 100),
    idempotencyTtlSeconds: integer('IDEMPOTENCY_TTL_SECONDS', DEFAULT_SETTINGS.idempotencyTtlSeconds, 60, 30 * 86_400),
    parkJitterSeconds: integer('PARK_JITTER_SECONDS', DEFAULT_SETTINGS.parkJitterSeconds, 0, 3600),
    ledgerTableName: required('LEDGER_TABLE_NAME'),
    circuitsTableName: required('CIRCUITS_TABLE_NAME'),
    deadLetterQueueUrl: required('DLQ_URL'),
  };
  if (settings.http.baseDelayMs > settings.http.maxDelayMs) {
    problems.push('HTTP_BASE_DELAY_MS must not exceed HTTP_MAX_DELAY_MS');
  }
  if (problems.length > 0) {
    throw new ConfigurationError(`Invalid configuration for the integration runtime:\n- ${problems.join('\n- ')}`);
  }
  return settings;
}
