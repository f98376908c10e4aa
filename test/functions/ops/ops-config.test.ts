import { describe, expect, it } from 'vitest';
import { findIntegrationAdapter, INTEGRATION_ADAPTERS } from '../../../functions/integrations/index.js';
import { controllerConfigFromEnvironment, proberConfigFromEnvironment } from '../../../functions/ops/ops-config.js';
import { ConfigurationError } from '../../../functions/runtime/errors.js';
import { CRM_MAPPING, PAYMENTS_MAPPING } from './ops-test-support.js';

const crm = { name: 'crm', mappingUuid: CRM_MAPPING, maxConcurrency: 5, baseUrl: 'https://crm.example.com/api', secretName: 'integration-hub/crm' };
const payments = { name: 'payments', mappingUuid: PAYMENTS_MAPPING, maxConcurrency: 10, baseUrl: 'https://payments.example.com/v1', secretName: 'arn:aws:secretsmanager:eu-west-1:1:secret:p', httpTimeoutMs: 8000, circuit: { breakMs: 60_000 } };

const proberEnv = (integrations: unknown, extra: Record<string, string> = {}) => ({
  INTEGRATIONS: JSON.stringify(integrations),
  CIRCUITS_TABLE_NAME: 'circuits',
  PROBE_RULE_NAME: 'hub-prober',
  ...extra,
});

function problemsOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigurationError');
}

describe('integration adapter registry', () => {
  it('lists every adapter under its name', () => {
    expect(Object.keys(INTEGRATION_ADAPTERS).sort()).toEqual(['crm', 'payments']);
    for (const [name, adapter] of Object.entries(INTEGRATION_ADAPTERS)) {
      expect(adapter.name).toBe(name);
      expect(adapter.definition.probe).toBeTypeOf('function');
    }
    expect(findIntegrationAdapter('toString')).toBeUndefined();
  });
});

describe('circuit controller configuration', () => {
  it('reads the integrations, the circuits table and the probe rule', () => {
    const config = controllerConfigFromEnvironment({
      INTEGRATIONS: JSON.stringify([{ name: 'crm', mappingUuid: CRM_MAPPING }]),
      CIRCUITS_TABLE_NAME: 'circuits',
      PROBE_RULE_NAME: 'hub-prober',
    });
    expect(config).toMatchObject({ integrations: [{ name: 'crm', mappingUuid: CRM_MAPPING }], circuitsTableName: 'circuits', probeRuleName: 'hub-prober' });
  });

  it('reports every problem at once', () => {
    const message = problemsOf(() =>
      controllerConfigFromEnvironment({ INTEGRATIONS: JSON.stringify([{ name: 'CRM', mappingUuid: 'nope', extra: 1 }, { name: 'b', mappingUuid: CRM_MAPPING }, { name: 'b', mappingUuid: CRM_MAPPING }]) }),
    );
    expect(message).toContain('unknown field(s) extra');
    expect(message).toContain('name must be a lower-kebab-case string');
    expect(message).toContain('mappingUuid must be the UUID');
    expect(message).toContain("lists 'b' twice");
    expect(message).toContain(`mappingUuid ${CRM_MAPPING} for more than one`);
    expect(message).toContain('CIRCUITS_TABLE_NAME is required');
    expect(message).toContain('PROBE_RULE_NAME is required');
  });

  it('says what INTEGRATIONS must be when it is missing or not JSON', () => {
    expect(problemsOf(() => controllerConfigFromEnvironment({}))).toContain('INTEGRATIONS is required');
    expect(problemsOf(() => controllerConfigFromEnvironment({ INTEGRATIONS: '{oops' }))).toContain('INTEGRATIONS is not valid JSON');
    expect(problemsOf(() => controllerConfigFromEnvironment({ INTEGRATIONS: '[]' }))).toContain('non-empty JSON array');
  });
});

describe('circuit prober configuration', () => {
  it('reads every integration with its catalog settings and the defaults', () => {
    const config = proberConfigFromEnvironment(proberEnv([crm, payments]), findIntegrationAdapter);
    expect(config.integrations).toEqual([
      { ...crm, circuit: {} },
      { ...payments },
    ]);
    expect(config).toMatchObject({ circuitsTableName: 'circuits', probeRuleName: 'hub-prober', restoreAfterMs: 60_000, secretMaxAgeSeconds: 300 });
    expect(proberConfigFromEnvironment(proberEnv([crm], { RESTORE_AFTER_SECONDS: '0' }), findIntegrationAdapter).restoreAfterMs).toBe(0);
  });

  it('reports every problem at once: unknown adapter, missing secret, bad numbers, bad breaker settings', () => {
    const message = problemsOf(() =>
      proberConfigFromEnvironment(
        proberEnv(
          [
            { ...crm, secretName: undefined, maxConcurrency: 1 },
            { ...payments, baseUrl: 'ftp://x', httpTimeoutMs: 5, circuit: { breakMs: -1 } },
            { ...crm, name: 'inventory', mappingUuid: '33333333-3333-4333-8333-333333333333' },
          ],
          { RESTORE_AFTER_SECONDS: 'soon' },
        ),
        findIntegrationAdapter,
      ),
    );
    expect(message).toContain("secretName is required for auth scheme 'oauth2_client_credentials'");
    expect(message).toContain('maxConcurrency must be an integer from 2 to 1000');
    expect(message).toContain('baseUrl must be an http(s) URL');
    expect(message).toContain('httpTimeoutMs must be an integer');
    expect(message).toContain('breakMs must be an integer');
    expect(message).toContain("no adapter is called 'inventory'");
    expect(message).toContain('RESTORE_AFTER_SECONDS must be an integer');
  });
});
