import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../functions/runtime/errors.js';
import { DEFAULT_SETTINGS, settingsFromEnvironment } from '../../../functions/runtime/runtime-settings.js';

const complete = {
  BASE_URL: 'https://api.example.com/v2',
  SECRET_NAME: 'crm/credentials',
  LEDGER_TABLE_NAME: 'ledger',
  CIRCUITS_TABLE_NAME: 'circuits',
  DLQ_URL: 'https://sqs.us-east-1.amazonaws.com/1/crm-dlq',
};

describe('settingsFromEnvironment', () => {
  it('fills defaults and lets the adapter connection set timeout and attempts', () => {
    const settings = settingsFromEnvironment(complete, { auth: { scheme: 'bearer' }, timeoutMs: 8000, maxAttempts: 4 });
    expect(settings.http).toMatchObject({ timeoutMs: 8000, maxAttempts: 4, baseDelayMs: DEFAULT_SETTINGS.http.baseDelayMs });
    expect(settings.recordConcurrency).toBe(10);
    expect(settings.secretMaxAgeSeconds).toBe(300);
  });

  it('lets the environment override the adapter defaults', () => {
    const settings = settingsFromEnvironment({ ...complete, HTTP_TIMEOUT_MS: '2500', RECORD_CONCURRENCY: '3' }, { auth: { scheme: 'bearer' }, timeoutMs: 8000 });
    expect(settings.http.timeoutMs).toBe(2500);
    expect(settings.recordConcurrency).toBe(3);
  });

  it('reports every problem at once', () => {
    let error: unknown;
    try {
      settingsFromEnvironment({ BASE_URL: 'ftp://x', HTTP_MAX_ATTEMPTS: 'many', RECORD_CONCURRENCY: '0' }, { auth: { scheme: 'bearer' } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    const message = (error as Error).message;
    for (const fragment of ['BASE_URL must be an http(s) URL', 'SECRET_NAME is required', 'LEDGER_TABLE_NAME is required', 'CIRCUITS_TABLE_NAME is required', 'DLQ_URL is required', 'HTTP_MAX_ATTEMPTS must be an integer', 'RECORD_CONCURRENCY must be an integer']) {
      expect(message).toContain(fragment);
    }
  });

  it('needs no secret for auth scheme none', () => {
    const { SECRET_NAME: _unused, ...withoutSecret } = complete;
    expect(settingsFromEnvironment(withoutSecret, { auth: { scheme: 'none' } }).secretName).toBeUndefined();
  });

  it('reads the retry delays and refuses a base above the cap', () => {
    const settings = settingsFromEnvironment({ ...complete, RETRY_BASE_DELAY_SECONDS: '0', RETRY_MAX_DELAY_SECONDS: '60' }, { auth: { scheme: 'bearer' } });
    expect(settings).toMatchObject({ retryBaseDelaySeconds: 0, retryMaxDelaySeconds: 60 });
    expect(settingsFromEnvironment(complete, { auth: { scheme: 'bearer' } })).toMatchObject({ retryBaseDelaySeconds: 10, retryMaxDelaySeconds: 300 });
    expect(() => settingsFromEnvironment({ ...complete, RETRY_BASE_DELAY_SECONDS: '120', RETRY_MAX_DELAY_SECONDS: '60' }, { auth: { scheme: 'bearer' } })).toThrow(
      'RETRY_BASE_DELAY_SECONDS must not exceed RETRY_MAX_DELAY_SECONDS',
    );
  });
});
