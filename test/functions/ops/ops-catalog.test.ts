import { GetParametersByPathCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { opsCatalogVariables, reloadingOpsCatalog, ssmParameterReader, withOpsCatalog } from '../../../functions/ops/ops-catalog.js';
import { controllerConfigFromEnvironment } from '../../../functions/ops/ops-config.js';
import { DependencyError } from '../../../functions/runtime/errors.js';

const PATH = '/IntegrationHub/circuit-ops/';
const alpha = { name: 'alpha', mappingUuid: '11111111-1111-4111-8111-111111111111', maxConcurrency: 5, baseUrl: 'https://alpha.example.com', auth: { scheme: 'bearer' }, secretName: 's', circuit: {} };
const beta = { ...alpha, name: 'beta-two', adapter: 'alpha', mappingUuid: '22222222-2222-4222-8222-222222222222' };
const courier = { name: 'courier', baseUrl: 'https://courier.example.com', auth: 'basic', secretName: 'c', circuit: {} };
const parameter = (kind: string, entry: { name: string }) => ({ name: `${PATH}${kind}/${entry.name}`, value: JSON.stringify(entry) });

const ssm = mockClient(SSMClient);
afterEach(() => ssm.reset());

describe('the circuits the ops functions watch (SSM parameters)', () => {
  it('gives the prober every entry, in name order, and the controller only names and mappings', () => {
    const parameters = [parameter('integrations', beta), parameter('providers', courier), parameter('integrations', alpha), { name: '/Other/circuit-ops/integrations/x', value: '{}' }];
    const prober = opsCatalogVariables(parameters, PATH, 'prober');
    expect(JSON.parse(prober.INTEGRATIONS)).toEqual([alpha, beta]);
    expect(JSON.parse(prober.PROVIDERS)).toEqual([courier]);
    const controller = opsCatalogVariables(parameters, PATH, 'controller');
    expect(JSON.parse(controller.INTEGRATIONS)).toEqual([alpha, beta].map(({ name, mappingUuid }) => ({ name, mappingUuid })));
    expect(JSON.parse(controller.PROVIDERS)).toEqual(['courier']);
  });

  it('hands a parameter that is not JSON to the configuration parser, which names its place', () => {
    const variables = opsCatalogVariables([{ name: `${PATH}integrations/alpha`, value: 'not json' }], PATH, 'controller');
    expect(() => controllerConfigFromEnvironment({ ...variables, CIRCUITS_TABLE_NAME: 't', PROBE_RULE_NAME: 'r' })).toThrow(/INTEGRATIONS\[0\]/);
  });

  it('reads every page of the path, recursively, and leaves an environment without the path as it is', async () => {
    ssm
      .on(GetParametersByPathCommand, { Path: '/IntegrationHub/circuit-ops', Recursive: true, NextToken: undefined })
      .resolves({ Parameters: [{ Name: parameter('integrations', alpha).name, Value: parameter('integrations', alpha).value }], NextToken: 'page-2' })
      .on(GetParametersByPathCommand, { Path: '/IntegrationHub/circuit-ops', Recursive: true, NextToken: 'page-2' })
      .resolves({ Parameters: [{ Name: parameter('providers', courier).name, Value: parameter('providers', courier).value }] });
    const read = ssmParameterReader(new SSMClient({ region: 'eu-west-1' }));
    const env = await withOpsCatalog({ OPS_CATALOG_PATH: PATH, PROBE_RULE_NAME: 'r' }, 'prober', read);
    expect(JSON.parse(env.INTEGRATIONS!)).toEqual([alpha]);
    expect(JSON.parse(env.PROVIDERS!)).toEqual([courier]);
    expect(env.PROBE_RULE_NAME).toBe('r');
    expect(ssm.commandCalls(GetParametersByPathCommand)).toHaveLength(2);

    const untouched = { INTEGRATIONS: '[]' };
    expect(await withOpsCatalog(untouched, 'controller', read)).toBe(untouched);
  });

  it('fails the init with a dependency error naming the path when Parameter Store cannot be read', async () => {
    ssm.on(GetParametersByPathCommand).rejects(new Error('AccessDeniedException'));
    const failure = await withOpsCatalog({ OPS_CATALOG_PATH: PATH }, 'prober', ssmParameterReader(new SSMClient({ region: 'eu-west-1' }))).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DependencyError);
    expect((failure as Error).message).toContain(PATH);
  });
});

describe('the circuits an ops function runs on, kept in step with the parameters', () => {
  const path = '/Hub-core/circuit-ops/';
  const entry = (name: string, mappingUuid: string) => ({ name: `${path}integrations/${name}`, value: JSON.stringify({ name, mappingUuid }) });

  it('reads again after a minute or when forced, and rebuilds only when the parameters changed', async () => {
    let now = 0;
    let parameters = [entry('alpha', 'uuid-1')];
    let reads = 0;
    const builds: string[] = [];
    const catalog = reloadingOpsCatalog({
      env: { OPS_CATALOG_PATH: path },
      reader: 'controller',
      readParameters: async () => {
        reads += 1;
        return parameters;
      },
      build: (env) => {
        builds.push(env.INTEGRATIONS!);
        return { integrations: JSON.parse(env.INTEGRATIONS!) as unknown[] };
      },
      maxAgeMs: 60_000,
      now: () => now,
    });
    const first = await catalog.current();
    now = 59_999;
    expect(await catalog.current()).toBe(first);
    expect(reads).toBe(1);
    // Older than a minute: read again; nothing changed, so the same instance.
    now = 60_000;
    expect(await catalog.current()).toBe(first);
    expect([reads, builds.length]).toEqual([2, 1]);
    // An integration stack deploy replaced a mapping: the after-deploy run forces a read and gets a new instance.
    parameters = [entry('alpha', 'uuid-2'), entry('beta', 'uuid-3')];
    const after = await catalog.current(true);
    expect(after).not.toBe(first);
    expect(after.integrations).toEqual([{ name: 'alpha', mappingUuid: 'uuid-2' }, { name: 'beta', mappingUuid: 'uuid-3' }]);
    expect(reads).toBe(3);
  });
});
