import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../functions/runtime/errors.js';
import { DEFAULT_SETTINGS, settingsFromEnvironment } from '../../../functions/runtime/runtime-settings.js';

const complete = {
  BASE_URL: 'https://api.example.com/v2',
  SECRET_NAME: 'crm/credentials',
  LEDGER_TABLE_NAME: 'ledger',
  CIRCUITS_TABLE_NAME: 'circuits',
  DLQ_URL: 'https://sqs.us-east-1.amazonaws.com/1/crm-dlq',
  AUTH: '{"scheme":"bearer"}',
};

describe('settingsFromEnvironment', () => {
  it('fills the defaults of what the environment leaves out, and reads the auth configuration', () => {
    const settings = settingsFromEnvironment(complete);
    expect(settings.auth).toEqual({ scheme: 'bearer' });
    expect(settings.http).toMatchObject({ timeoutMs: DEFAULT_SETTINGS.http.timeoutMs, maxAttempts: DEFAULT_SETTINGS.http.maxAttempts, baseDelayMs: DEFAULT_SETTINGS.http.baseDelayMs });
    expect(settings.recordConcurrency).toBe(10);
    expect(settings.secretMaxAgeSeconds).toBe(300);
  });

  it('reads timeout and concurrency from the environment', () => {
    const settings = settingsFromEnvironment({ ...complete, HTTP_TIMEOUT_MS: '2500', RECORD_CONCURRENCY: '3' });
    expect(settings.http.timeoutMs).toBe(2500);
    expect(settings.recordConcurrency).toBe(3);
  });

  it('reports every problem at once', () => {
    let error: unknown;
    try {
      settingsFromEnvironment({ BASE_URL: 'ftp://x', HTTP_MAX_ATTEMPTS: 'many', RECORD_CONCURRENCY: '0', AUTH: '{"scheme":"bearer"}' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    const message = (error as Error).message;
    for (const fragment of ['BASE_URL must be an https URL', 'SECRET_NAME is required', 'LEDGER_TABLE_NAME is required', 'CIRCUITS_TABLE_NAME is required', 'DLQ_URL is required', 'HTTP_MAX_ATTEMPTS must be an integer', 'RECORD_CONCURRENCY must be an integer']) {
      expect(message).toContain(fragment);
    }
  });

  it('requires AUTH and reports a malformed or unknown one with the variable name', () => {
    const { AUTH: _auth, ...withoutAuth } = complete;
    expect(() => settingsFromEnvironment(withoutAuth)).toThrow(/- AUTH is required/);
    expect(() => settingsFromEnvironment({ ...complete, AUTH: '{oops' })).toThrow(/AUTH must be JSON/);
    expect(() => settingsFromEnvironment({ ...complete, AUTH: '{"scheme":"kerberos"}' })).toThrow(/AUTH: auth scheme must be one of none, bearer/);
    expect(() => settingsFromEnvironment({ ...complete, AUTH: '{"scheme":"oauth2_client_credentials"}' })).toThrow(/AUTH: auth.tokenUrl is required/);
    expect(settingsFromEnvironment({ ...complete, AUTH: '{"scheme":"api_key","headerName":"X-Key"}' }).auth).toEqual({ scheme: 'api_key', headerName: 'X-Key' });
  });

  it('needs no secret for auth scheme none', () => {
    const { SECRET_NAME: _unused, ...withoutSecret } = complete;
    expect(settingsFromEnvironment({ ...withoutSecret, AUTH: '"none"' }).secretName).toBeUndefined();
  });

  it('reads the retry delays and refuses a base above the cap', () => {
    const settings = settingsFromEnvironment({ ...complete, RETRY_BASE_DELAY_SECONDS: '0', RETRY_MAX_DELAY_SECONDS: '60' });
    expect(settings).toMatchObject({ retryBaseDelaySeconds: 0, retryMaxDelaySeconds: 60 });
    expect(settingsFromEnvironment(complete)).toMatchObject({ retryBaseDelaySeconds: 10, retryMaxDelaySeconds: 300 });
    expect(() => settingsFromEnvironment({ ...complete, RETRY_BASE_DELAY_SECONDS: '120', RETRY_MAX_DELAY_SECONDS: '60' })).toThrow(
      'RETRY_BASE_DELAY_SECONDS must not exceed RETRY_MAX_DELAY_SECONDS',
    );
  });
});
