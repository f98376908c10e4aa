import { ConfigurationError } from './errors.js';
import { type AuthConfig, authConfigFromEnvironment } from './auth-config.js';
import { baseUrlProblem } from './base-url.js';

/** The settings of one integration's runtime, resolved once at init. */
export interface RuntimeSettings {
  /** The provider's base URL; request paths are appended. */
  baseUrl: string;
  /** How the provider is authenticated (the catalog's `auth`, passed as `AUTH`). */
  auth: AuthConfig;
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
  /**
   * When a delivery fails transiently, the message comes back after `retryBaseDelaySeconds × 2^(receives − 1)`
   * (capped at `retryMaxDelaySeconds`, ±50 % jitter) instead of after the queue's whole visibility timeout.
   * 0 = leave it to the visibility timeout.
   */
  retryBaseDelaySeconds: number;
  retryMaxDelaySeconds: number;
  /**
   * The source queue's maxReceiveCount (its redrive policy). A message that only waited (circuit open, throttled)
   * on its last receive before the redrive is handed back with a fresh receive count instead of being moved to the
   * DLQ. 0 = unknown: nothing is handed back.
   */
  maxReceiveCount: number;
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
  // With maxReceiveCount 5 the four retries come back after ≈ 10, 20, 40, 80 s: a blip is retried within seconds,
  // and a provider failing for minutes has opened the circuit (parking, no receive burnt) long before the DLQ.
  retryBaseDelaySeconds: 10,
  retryMaxDelaySeconds: 300,
} as const;

/** The environment variables the runtime reads (set by the CDK stack from the catalog). */
export const SETTINGS_ENVIRONMENT = {
  INTEGRATION_NAME: 'the catalog integration the function serves (required; read by functions/runtime/define-integration.ts)',
  ADAPTER: 'the adapter the bundle is (informational: the local hub and operators read it)',
  BASE_URL: 'provider base URL (required)',
  AUTH: 'auth scheme and parameters as JSON, e.g. {"scheme":"bearer"} (required; set from the catalog)',
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
  RETRY_BASE_DELAY_SECONDS: `first retry delay after a transient failure, doubling per receive; 0 = the queue visibility timeout (default ${DEFAULT_SETTINGS.retryBaseDelaySeconds})`,
  RETRY_MAX_DELAY_SECONDS: `retry delay cap (default ${DEFAULT_SETTINGS.retryMaxDelaySeconds})`,
  MAX_RECEIVE_COUNT: "the source queue's maxReceiveCount: a message that only waited is handed back before it (default 0: unknown, never)",
} as const;

/**
 * The inclusive range of each integer setting. The catalogs (lib/catalog.ts, lib/workflow-catalog.ts) check their
 * fields against the same ranges at synth, so a value that synth accepts never fails the function's init.
 */
export const SETTING_RANGES = {
  SECRET_MAX_AGE_SECONDS: [0, 86_400],
  HTTP_TIMEOUT_MS: [100, 900_000],
  HTTP_MAX_ATTEMPTS: [1, 20],
  HTTP_BASE_DELAY_MS: [1, 60_000],
  HTTP_MAX_DELAY_MS: [1, 300_000],
  HTTP_SAFETY_MARGIN_MS: [0, 60_000],
  RECORD_CONCURRENCY: [1, 100],
  IDEMPOTENCY_TTL_SECONDS: [60, 30 * 86_400],
  PARK_JITTER_SECONDS: [0, 3600],
  RETRY_BASE_DELAY_SECONDS: [0, 43_200],
  RETRY_MAX_DELAY_SECONDS: [1, 43_200],
  MAX_RECEIVE_COUNT: [0, 1000],
} as const satisfies Partial<Record<keyof typeof SETTINGS_ENVIRONMENT, readonly [number, number]>>;

/**
 * Reads the settings from the environment once, reporting every problem at once (docs/architecture.md "Conventions").
 * Everything about the provider (auth, timeout, attempts) comes from the environment, which the stack sets from the
 * catalog: an adapter declares none of it.
 */
export function settingsFromEnvironment(env: Record<string, string | undefined>): RuntimeSettings {
  return readSettings(env, {
    subject: 'the integration runtime',
    providerPrefix: '',
    deadLetterQueue: true,
    ledger: true,
    idempotencyTtlSeconds: DEFAULT_SETTINGS.idempotencyTtlSeconds,
  });
}

/**
 * How long a workflow task remembers a completed step by default: a saga waiting out an open circuit retries a
 * step for hours, and a replay must still find the stored result then.
 */
export const DEFAULT_TASK_IDEMPOTENCY_TTL_SECONDS = 7 * 86_400;

/** The environment variables a Step Functions task reads (no DLQ: a failed task is the state machine's to handle). */
export const TASK_SETTINGS_ENVIRONMENT = {
  BASE_URL: SETTINGS_ENVIRONMENT.BASE_URL,
  AUTH: SETTINGS_ENVIRONMENT.AUTH,
  SECRET_NAME: SETTINGS_ENVIRONMENT.SECRET_NAME,
  LEDGER_TABLE_NAME: 'sync ledger table (required unless the task keeps no ledger)',
  CIRCUITS_TABLE_NAME: SETTINGS_ENVIRONMENT.CIRCUITS_TABLE_NAME,
  HTTP_TIMEOUT_MS: SETTINGS_ENVIRONMENT.HTTP_TIMEOUT_MS,
  HTTP_MAX_ATTEMPTS: SETTINGS_ENVIRONMENT.HTTP_MAX_ATTEMPTS,
  HTTP_BASE_DELAY_MS: SETTINGS_ENVIRONMENT.HTTP_BASE_DELAY_MS,
  HTTP_MAX_DELAY_MS: SETTINGS_ENVIRONMENT.HTTP_MAX_DELAY_MS,
  HTTP_SAFETY_MARGIN_MS: SETTINGS_ENVIRONMENT.HTTP_SAFETY_MARGIN_MS,
  SECRET_MAX_AGE_SECONDS: SETTINGS_ENVIRONMENT.SECRET_MAX_AGE_SECONDS,
  IDEMPOTENCY_TTL_SECONDS: `completed-step window (default ${DEFAULT_TASK_IDEMPOTENCY_TTL_SECONDS})`,
} as const;

/** Options of {@link taskSettingsFromEnvironment}. */
export interface TaskSettingsOptions {
  /**
   * Prefix of the provider variables `BASE_URL`, `SECRET_NAME`, `HTTP_TIMEOUT_MS` and `HTTP_MAX_ATTEMPTS`, for a task
   * that calls more than one provider (`'CRM_'` reads `CRM_BASE_URL`, `CRM_SECRET_NAME`, ...). The other variables
   * are shared and never prefixed.
   * @default ''
   */
  readonly providerPrefix?: string;
  /** The task writes the sync ledger, so `LEDGER_TABLE_NAME` is required. @default true */
  readonly ledger?: boolean;
}

/**
 * The settings of a Step Functions task built on the runtime: like {@link settingsFromEnvironment}, but a task has
 * no DLQ (its failures go back to the state machine as typed errors), so `DLQ_URL` is neither read nor required and
 * `deadLetterQueueUrl` is empty. Record concurrency and park jitter do not apply and keep their defaults.
 * Like an integration's, the provider's connection (`AUTH`, timeout, attempts) is the workflow catalog's, which takes
 * an integration's from its catalog entry: task code declares none.
 */
export function taskSettingsFromEnvironment(
  env: Record<string, string | undefined>,
  options: TaskSettingsOptions = {},
): RuntimeSettings {
  return readSettings(env, {
    subject: 'the workflow task',
    providerPrefix: options.providerPrefix ?? '',
    deadLetterQueue: false,
    ledger: options.ledger ?? true,
    idempotencyTtlSeconds: DEFAULT_TASK_IDEMPOTENCY_TTL_SECONDS,
  });
}

/** The variables that describe one provider; a {@link TaskSettingsOptions.providerPrefix} applies to these only. */
const PROVIDER_VARIABLES = ['BASE_URL', 'AUTH', 'SECRET_NAME', 'HTTP_TIMEOUT_MS', 'HTTP_MAX_ATTEMPTS'] as const;

/** What differs between the SQS integrations' settings and the workflow tasks'. */
interface SettingsProfile {
  subject: string;
  providerPrefix: string;
  deadLetterQueue: boolean;
  ledger: boolean;
  idempotencyTtlSeconds: number;
}

function readSettings(env: Record<string, string | undefined>, profile: SettingsProfile): RuntimeSettings {
  const problems: string[] = [];
  const variable = (name: keyof typeof SETTINGS_ENVIRONMENT): string =>
    (PROVIDER_VARIABLES as readonly string[]).includes(name) ? `${profile.providerPrefix}${name}` : name;
  const required = (name: keyof typeof SETTINGS_ENVIRONMENT): string => {
    const value = env[variable(name)]?.trim();
    if (!value) problems.push(`${variable(name)} is required: ${SETTINGS_ENVIRONMENT[name]}`);
    return value ?? '';
  };
  const integer = (name: keyof typeof SETTING_RANGES, fallback: number): number => {
    const [min, max] = SETTING_RANGES[name];
    const raw = env[variable(name)]?.trim();
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${variable(name)} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return value;
  };

  const baseUrl = required('BASE_URL');
  const badUrl = baseUrl ? baseUrlProblem(baseUrl, variable('BASE_URL')) : undefined;
  if (badUrl) problems.push(badUrl);
  const authProblems: string[] = [];
  const auth = authConfigFromEnvironment(env[variable('AUTH')], variable('AUTH'), authProblems);
  if (!auth && authProblems.length === 0) authProblems.push(`${variable('AUTH')} is required: ${SETTINGS_ENVIRONMENT.AUTH}`);
  problems.push(...authProblems);
  const secretName = auth?.scheme === 'none' ? env[variable('SECRET_NAME')]?.trim() || undefined : required('SECRET_NAME');
  const settings: RuntimeSettings = {
    baseUrl,
    auth: auth ?? { scheme: 'none' },
    secretName,
    secretMaxAgeSeconds: integer('SECRET_MAX_AGE_SECONDS', DEFAULT_SETTINGS.secretMaxAgeSeconds),
    http: {
      timeoutMs: integer('HTTP_TIMEOUT_MS', DEFAULT_SETTINGS.http.timeoutMs),
      maxAttempts: integer('HTTP_MAX_ATTEMPTS', DEFAULT_SETTINGS.http.maxAttempts),
      baseDelayMs: integer('HTTP_BASE_DELAY_MS', DEFAULT_SETTINGS.http.baseDelayMs),
      maxDelayMs: integer('HTTP_MAX_DELAY_MS', DEFAULT_SETTINGS.http.maxDelayMs),
      safetyMarginMs: integer('HTTP_SAFETY_MARGIN_MS', DEFAULT_SETTINGS.http.safetyMarginMs),
    },
    recordConcurrency: integer('RECORD_CONCURRENCY', DEFAULT_SETTINGS.recordConcurrency),
    idempotencyTtlSeconds: integer('IDEMPOTENCY_TTL_SECONDS', profile.idempotencyTtlSeconds),
    parkJitterSeconds: integer('PARK_JITTER_SECONDS', DEFAULT_SETTINGS.parkJitterSeconds),
    retryBaseDelaySeconds: integer('RETRY_BASE_DELAY_SECONDS', DEFAULT_SETTINGS.retryBaseDelaySeconds),
    retryMaxDelaySeconds: integer('RETRY_MAX_DELAY_SECONDS', DEFAULT_SETTINGS.retryMaxDelaySeconds),
    maxReceiveCount: integer('MAX_RECEIVE_COUNT', 0),
    ledgerTableName: profile.ledger ? required('LEDGER_TABLE_NAME') : '',
    circuitsTableName: required('CIRCUITS_TABLE_NAME'),
    deadLetterQueueUrl: profile.deadLetterQueue ? required('DLQ_URL') : '',
  };
  if (settings.retryBaseDelaySeconds > settings.retryMaxDelaySeconds) {
    problems.push('RETRY_BASE_DELAY_SECONDS must not exceed RETRY_MAX_DELAY_SECONDS');
  }
  if (settings.http.baseDelayMs > settings.http.maxDelayMs) {
    problems.push('HTTP_BASE_DELAY_MS must not exceed HTTP_MAX_DELAY_MS');
  }
  if (problems.length > 0) {
    throw new ConfigurationError(`Invalid configuration for ${profile.subject}:\n- ${problems.join('\n- ')}`);
  }
  return settings;
}
