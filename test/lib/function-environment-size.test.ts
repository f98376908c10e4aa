import { describe, expect, it } from 'vitest';
import { fixtureIntegrations } from './fixture-catalog.js';
import { synthesizeHub } from './hub-app.js';

/** Lambda's limit for a function's whole environment, and the budget the hub keeps under it. */
const LAMBDA_LIMIT_BYTES = 4096;
const BUDGET_BYTES = 3072;
/** Deploy-time values (ARNs, names, URLs) rendered as 80 characters each: realistic ARNs with long stack names. */
const TOKEN = 'x'.repeat(80);

/** Every function's environment, deploy-time values rendered as {@link TOKEN}, as Lambda measures it (JSON text). */
function environmentSizes(integrationCount: number): Map<string, number> {
  const { template } = synthesizeHub({ integrations: fixtureIntegrations(integrationCount), workflows: null });
  const render = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
    return join ? join[1].map(render).join(join[0]) : TOKEN;
  };
  const sizes = new Map<string, number>();
  for (const [logicalId, resource] of Object.entries(template.findResources('AWS::Lambda::Function'))) {
    const variables = (resource.Properties.Environment?.Variables ?? {}) as Record<string, unknown>;
    const rendered = Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, render(value)]));
    sizes.set(logicalId, Buffer.byteLength(JSON.stringify(rendered)));
  }
  return sizes;
}

describe('function environments', () => {
  it('stay within budget and do not grow with the catalog (the ops functions read their circuits from SSM parameters)', () => {
    const small = environmentSizes(2);
    // As many integrations as one stack holds today; the sizes must not depend on the count.
    const large = environmentSizes(16);
    for (const [logicalId, size] of large) {
      expect(size, logicalId).toBeLessThanOrEqual(BUDGET_BYTES);
      if (small.has(logicalId)) expect(size, `${logicalId} grows with the catalog`).toBe(small.get(logicalId));
    }
    expect(BUDGET_BYTES).toBeLessThan(LAMBDA_LIMIT_BYTES);
    // The controller and prober exist in both and are among the compared functions.
    expect([...large.keys()].filter((id) => small.has(id)).some((id) => /CircuitController.*Prober/.test(id))).toBe(true);
  });
});
