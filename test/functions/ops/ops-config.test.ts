import { describe, expect, it } from 'vitest';
import { loadAdapters } from '../../../functions/ops/integration-adapters.js';
import { adapterNamesOf, controllerConfigFromEnvironment, proberConfigFromEnvironment } from '../../../functions/ops/ops-config.js';
import { ConfigurationError } from '../../../functions/runtime/errors.js';
import { INTEGRATIONS, resolveCatalog } from '../../../lib/catalog.js';
import { PROVIDERS } from '../../../lib/workflow-catalog.js';
import { findProviderProbe, PROVIDER_PROBES } from '../../../functions/workflows/provider-probes.js';
import { CRM_MAPPING, PAYMENTS_MAPPING } from './ops-test-support.js';

// The entries name the adapters of the catalog's first two integrations, because the prober config resolves adapters
// by name (functions/ops/integration-adapters.ts); their other settings are made up here.
const [firstEntry, secondEntry] = resolveCatalog(INTEGRATIONS);

const first = { name: firstEntry!.name, mappingUuid: CRM_MAPPING, maxConcurrency: 5, baseUrl: 'https://first.example.com/api', auth: { scheme: 'oauth2_client_credentials', tokenUrl: '/oauth/token' }, secretName: `integration-hub/${firstEntry!.name}` };
const second = { name: secondEntry!.name, mappingUuid: PAYMENTS_MAPPING, maxConcurrency: 10, baseUrl: 'https://second.example.com/v1', auth: { scheme: 'bearer' }, secretName: 'arn:aws:secretsmanager:eu-west-1:1:secret:p', httpTimeoutMs: 8000, circuit: { breakMs: 60_000 } };

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

// The adapters these fixtures name, loaded as the prober loads them.
const adapters = await loadAdapters([firstEntry!.adapter, secondEntry!.adapter]);
const findIntegrationAdapter = (adapter: string) => adapters.get(adapter);

describe('circuit controller configuration', () => {
  it('reads the integrations, the circuits table and the probe rule', () => {
    const config = controllerConfigFromEnvironment({
      INTEGRATIONS: JSON.stringify([{ name: first.name, mappingUuid: CRM_MAPPING }]),
      CIRCUITS_TABLE_NAME: 'circuits',
      PROBE_RULE_NAME: 'hub-prober',
    });
    expect(config).toMatchObject({ integrations: [{ name: first.name, mappingUuid: CRM_MAPPING }], circuitsTableName: 'circuits', probeRuleName: 'hub-prober' });
  });

  it('reports every problem at once', () => {
    const message = problemsOf(() =>
      controllerConfigFromEnvironment({ INTEGRATIONS: JSON.stringify([{ name: 'CRM', mappingUuid: 'nope', extra: 1 }, { name: 'b', mappingUuid: CRM_MAPPING }, { name: 'b', mappingUuid: CRM_MAPPING }]) }),
    );
    expect(message).toContain('unknown field(s) extra');
    expect(message).toContain("name must be lower-kebab-case like 'crm'");
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
    const config = proberConfigFromEnvironment(proberEnv([first, second]), findIntegrationAdapter);
    expect(config.integrations).toEqual([
      { ...first, adapter: firstEntry!.adapter, circuit: {} },
      { ...second, adapter: secondEntry!.adapter },
    ]);
    expect(config).toMatchObject({ circuitsTableName: 'circuits', probeRuleName: 'hub-prober', restoreAfterMs: 60_000, secretMaxAgeSeconds: 300 });
    expect(proberConfigFromEnvironment(proberEnv([first], { RESTORE_AFTER_SECONDS: '0' }), findIntegrationAdapter).restoreAfterMs).toBe(0);
  });

  it("probes an integration with the adapter it names, under the integration's own name", () => {
    const firstEu = { ...first, name: `${first.name}-eu`, adapter: firstEntry!.adapter, mappingUuid: '44444444-4444-4444-8444-444444444444' };
    const config = proberConfigFromEnvironment(proberEnv([first, firstEu]), findIntegrationAdapter);
    expect(config.integrations.map((i) => [i.name, i.adapter])).toEqual([[first.name, firstEntry!.adapter], [`${first.name}-eu`, firstEntry!.adapter]]);
    const message = problemsOf(() => proberConfigFromEnvironment(proberEnv([{ ...firstEu, adapter: 'helpdesk' }, { ...first, adapter: 'Bad' }]), findIntegrationAdapter));
    expect(message).toContain(`INTEGRATIONS '${first.name}-eu': no adapter is called 'helpdesk'`);
    expect(message).toContain(`INTEGRATIONS '${first.name}': adapter must be lower-kebab-case`);
  });

  it('lists the adapters to load from INTEGRATIONS, leniently (problems are reported by the parser)', () => {
    expect(adapterNamesOf(JSON.stringify([first, { ...first, name: `${first.name}-eu`, adapter: firstEntry!.adapter }, { ...second, adapter: 'x/../y' }, null]))).toEqual([firstEntry!.adapter, firstEntry!.adapter]);
    expect(adapterNamesOf('{oops')).toEqual([]);
    expect(adapterNamesOf(undefined)).toEqual([]);
  });

  it('reports every problem at once: unknown adapter, missing secret, bad numbers, bad breaker settings', () => {
    const message = problemsOf(() =>
      proberConfigFromEnvironment(
        proberEnv(
          [
            { ...first, secretName: undefined, maxConcurrency: 1 },
            { ...second, baseUrl: 'ftp://x', httpTimeoutMs: 5, circuit: { breakMs: -1 } },
            { ...first, name: 'inventory', mappingUuid: '33333333-3333-4333-8333-333333333333' },
          ],
          { RESTORE_AFTER_SECONDS: 'soon' },
        ),
        findIntegrationAdapter,
      ),
    );
    expect(message).toContain("secretName is required for auth scheme 'oauth2_client_credentials'");
    expect(message).toContain('maxConcurrency must be an integer from 2 to 1000');
    expect(message).toContain('baseUrl must be an https URL');
    expect(message).toContain('httpTimeoutMs must be an integer');
    expect(message).toContain('breakMs must be an integer');
    expect(message).toContain("no adapter is called 'inventory'");
    expect(message).toContain('RESTORE_AFTER_SECONDS must be an integer');
  });
});

describe('workflow providers in the ops configuration', () => {
  const inventory = { name: 'inventory', baseUrl: 'https://inventory.example.com/v1', auth: { scheme: 'api_key' }, secretName: 'integration-hub/inventory', httpTimeoutMs: 5000, circuit: { breakMs: 30_000 } };

  it('has a probe for every standalone provider of the workflow catalog', () => {
    const standalone = PROVIDERS.filter((provider) => provider.integration === undefined).map((provider) => provider.name);
    expect(Object.keys(PROVIDER_PROBES).sort()).toEqual(standalone.sort());
    for (const probe of Object.values(PROVIDER_PROBES)) expect(probe.probe).toBeTypeOf('function');
    expect(findProviderProbe('toString')).toBeUndefined();
  });

  it('reads the providers of the prober (optional) and the provider names of the controller (optional)', () => {
    const prober = proberConfigFromEnvironment(proberEnv([first], { PROVIDERS: JSON.stringify([inventory, { name: 'email', baseUrl: 'https://email.example.com', auth: 'bearer', secretName: 's' }]) }), findIntegrationAdapter, findProviderProbe);
    expect(prober.providers).toEqual([inventory, { name: 'email', baseUrl: 'https://email.example.com', auth: { scheme: 'bearer' }, secretName: 's', circuit: {} }]);
    expect(proberConfigFromEnvironment(proberEnv([first]), findIntegrationAdapter, findProviderProbe).providers).toEqual([]);

    const controller = controllerConfigFromEnvironment({ ...proberEnv([{ name: first.name, mappingUuid: CRM_MAPPING }]), PROVIDERS: '["inventory","contacts"]' });
    expect(controller.providers).toEqual(['inventory', 'contacts']);
    expect(controllerConfigFromEnvironment(proberEnv([{ name: first.name, mappingUuid: CRM_MAPPING }])).providers).toEqual([]);
  });

  it('reports every provider problem at once: unknown probe, missing secret, a provider that is an integration, bad fields', () => {
    const message = problemsOf(() =>
      proberConfigFromEnvironment(
        proberEnv([first], {
          PROVIDERS: JSON.stringify([
            { ...inventory, secretName: undefined },
            { ...inventory, name: 'warehouse' },
            { ...inventory, name: first.name },
            { ...inventory, name: 'shipping', baseUrl: 'nope', extra: true },
          ]),
        }),
        findIntegrationAdapter,
        findProviderProbe,
      ),
    );
    expect(message).toContain("PROVIDERS 'inventory': secretName is required for auth scheme 'api_key'");
    expect(message).toContain("no provider probe is called 'warehouse'");
    expect(message).toContain(`PROVIDERS lists '${first.name}', which is already an integration`);
    expect(message).toContain("PROVIDERS 'shipping': unknown field(s) extra");
    expect(message).toContain("PROVIDERS 'shipping': baseUrl must be an https URL");
    expect(problemsOf(() => controllerConfigFromEnvironment({ ...proberEnv([{ name: first.name, mappingUuid: CRM_MAPPING }]), PROVIDERS: '[1]' }))).toContain(
      'PROVIDERS must be a JSON array of lower-kebab-case provider names',
    );
  });
});
