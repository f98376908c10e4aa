import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  CircuitOpenError,
  ConfigurationError,
  ProviderRejectedError,
  RetryableStatusError,
  StaleEventError,
  ThrottledError,
} from '../../../functions/runtime/errors.js';
import { DEFAULT_TASK_IDEMPOTENCY_TTL_SECONDS, settingsFromEnvironment, taskSettingsFromEnvironment } from '../../../functions/runtime/runtime-settings.js';
import { defineWorkflowTask, taskErrorNameOf, WorkflowTaskError } from '../../../functions/workflows/define-workflow-task.js';
import { BusinessRefusalError, refusalsOf, unlessNotFound } from '../../../functions/workflows/workflow-errors.js';
import { TASK_ERROR_NAMES } from '../../../functions/workflows/workflow-contract.js';

describe('task error names', () => {
  it('names transient failures Integration.Transient', () => {
    expect(taskErrorNameOf(new RetryableStatusError(503, 'down'))).toBe(TASK_ERROR_NAMES.transient);
  });

  it('names permanent failures and stale operations Integration.Permanent', () => {
    expect(taskErrorNameOf(new ProviderRejectedError(409, 'no'))).toBe(TASK_ERROR_NAMES.permanent);
    expect(taskErrorNameOf(new BusinessRefusalError('PaymentDeclined', 'declined'))).toBe(TASK_ERROR_NAMES.permanent);
    expect(taskErrorNameOf(new StaleEventError('old'))).toBe(TASK_ERROR_NAMES.permanent);
  });

  it('names calls not attempted (circuit open, throttled) Integration.CircuitOpen', () => {
    expect(taskErrorNameOf(new CircuitOpenError('payments', 0, 'open'))).toBe(TASK_ERROR_NAMES.circuitOpen);
    expect(taskErrorNameOf(new ThrottledError('payments', 0, 'slow down'))).toBe(TASK_ERROR_NAMES.circuitOpen);
  });

  it('carries the error class, the retry time and the classified cause', () => {
    const retryAt = Date.parse('2030-01-01T00:00:30.000Z');
    const cause = new CircuitOpenError('inventory', retryAt, 'Circuit inventory is open');
    const error = new WorkflowTaskError(TASK_ERROR_NAMES.circuitOpen, cause);

    expect(error).toMatchObject({ name: 'Integration.CircuitOpen', errorClass: 'CircuitOpen', retryAt: '2030-01-01T00:00:30.000Z', cause });
    expect(error.message).toBe('CircuitOpen: Circuit inventory is open (retry after 2030-01-01T00:00:30.000Z)');
  });
});

describe('business refusals', () => {
  it('turns the listed rejection statuses into refusals with their own class, keeping the rejection', async () => {
    const rejection = new ProviderRejectedError(409, 'POST /reservations -> 409: insufficient_stock');
    const error = await refusalsOf(() => Promise.reject(rejection), { 409: 'InsufficientStock' }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(BusinessRefusalError);
    expect(error).toMatchObject({ errorClass: 'InsufficientStock', category: 'permanent', cause: rejection });
  });

  it('lets other failures through unchanged', async () => {
    const other = new ProviderRejectedError(400, 'bad');
    await expect(refusalsOf(() => Promise.reject(other), { 409: 'InsufficientStock' })).rejects.toBe(other);
  });

  it('answers a 404 with the fallback and nothing else', async () => {
    expect(await unlessNotFound(() => Promise.reject(new ProviderRejectedError(404, 'gone')), () => 'fallback')).toBe('fallback');
    const conflict = new ProviderRejectedError(409, 'conflict');
    await expect(unlessNotFound(() => Promise.reject(conflict), () => 'fallback')).rejects.toBe(conflict);
  });
});

describe('defineWorkflowTask', () => {
  const declaration = {
    input: z.object({ executionName: z.string() }),
    entity: () => ({ type: 'order', id: '1' }),
    idempotencyKey: (input: { executionName: string }) => input.executionName,
    send: async () => ({ externalId: 'x' }),
  };

  it('refuses a task name or provider that is not lower-kebab-case', () => {
    expect(() => defineWorkflowTask({ ...declaration, name: 'reserveInventory', provider: 'inventory' })).toThrow(TypeError);
    expect(() => defineWorkflowTask({ ...declaration, name: 'reserve-inventory', provider: 'Inventory' })).toThrow(TypeError);
  });

  it('exposes the declaration under the task name, for the executor and the prober', () => {
    const task = defineWorkflowTask({ ...declaration, name: 'reserve-inventory', provider: 'inventory' });
    expect(task).toMatchObject({ name: 'reserve-inventory', provider: 'inventory', definition: { name: 'reserve-inventory' } });
  });
});

describe('task settings', () => {
  const env = { BASE_URL: 'https://inventory.example.com/v1', AUTH: '"api_key"', SECRET_NAME: 'inv', LEDGER_TABLE_NAME: 'ledger', CIRCUITS_TABLE_NAME: 'circuits' };

  it('needs no DLQ and remembers completed steps for a week by default', () => {
    const settings = taskSettingsFromEnvironment({ ...env, HTTP_TIMEOUT_MS: '4000' });

    expect(settings).toMatchObject({ deadLetterQueueUrl: '', idempotencyTtlSeconds: DEFAULT_TASK_IDEMPOTENCY_TTL_SECONDS, http: { timeoutMs: 4000 } });
  });

  it('keeps the SQS integrations requiring their DLQ', () => {
    expect(() => settingsFromEnvironment(env)).toThrow(/DLQ_URL is required/);
  });

  it('reads provider variables with a prefix and reports them by their full name', () => {
    const settings = taskSettingsFromEnvironment(
      { CRM_BASE_URL: 'https://crm.example.com', CRM_AUTH: '"bearer"', AUTH: '"none"', CRM_SECRET_NAME: 'crm', CRM_HTTP_TIMEOUT_MS: '2500', HTTP_TIMEOUT_MS: '9999', CIRCUITS_TABLE_NAME: 'c' },
      { providerPrefix: 'CRM_', ledger: false },
    );
    expect(settings).toMatchObject({ baseUrl: 'https://crm.example.com', auth: { scheme: 'bearer' }, secretName: 'crm', ledgerTableName: '', http: { timeoutMs: 2500 } });

    expect(() => taskSettingsFromEnvironment({ CIRCUITS_TABLE_NAME: 'c', CRM_HTTP_MAX_ATTEMPTS: 'x' }, { providerPrefix: 'CRM_', ledger: false })).toThrow(
      ConfigurationError,
    );
    try {
      taskSettingsFromEnvironment({ CIRCUITS_TABLE_NAME: 'c', CRM_HTTP_MAX_ATTEMPTS: 'x' }, { providerPrefix: 'CRM_', ledger: false });
    } catch (error) {
      expect((error as Error).message).toMatch(/CRM_BASE_URL is required[\s\S]*CRM_AUTH is required[\s\S]*CRM_HTTP_MAX_ATTEMPTS must be an integer/);
      expect((error as Error).message).not.toContain('LEDGER_TABLE_NAME');
    }
  });
});
