import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTEGRATIONS, resolveCatalog } from '../../../lib/catalog.js';
import { type DemoResult, parseOutage, runDemo } from '../../../local/hub/demo-scenario.js';
import { LocalHub } from '../../../local/hub/local-hub.js';
import { servingProviderOf } from '../../../local/hub/serving-provider.js';
import { PROVIDER_NAMES, type Sandbox } from '../../../local/sandbox/index.js';
import { startSandboxForCatalog } from '../../../local/hub/sandbox-wiring.js';

// A CRM outage also hits the contact sync (it writes to the CRM): runs during the outage fail by design once their
// short circuit-open budget is spent, and the run after the outage must bring the CRM in step with the source.
describe('the demo with the crm down', () => {
  let sandbox: Sandbox;
  let hub: LocalHub;
  let result: DemoResult;
  // The defaults of `npm start` with `--outage crm:15s --events 200 --seed 7`: crm down from 10 s to 25 s.
  const outageEndMs = 25_000;

  beforeAll(async () => {
    sandbox = await startSandboxForCatalog({ seed: 7 });
    hub = await LocalHub.start({ sandbox, timeScale: 1 / 30 });
    result = await runDemo(hub, sandbox, {
      events: 200,
      seed: 7,
      outage: parseOutage('crm:15s', PROVIDER_NAMES),
    });
  }, 150_000);

  afterAll(async () => {
    await hub?.stop();
    await sandbox?.close();
  });

  it('ends with nothing lost or duplicated, and opened the circuit of every integration the CRM serves', () => {
    expect(result.summary.problems).toEqual([]);
    expect(result.summary.ok).toBe(true);
    const catalog = resolveCatalog(INTEGRATIONS);
    expect(result.summary.integrations.map((row) => row.integration)).toEqual(catalog.map((entry) => entry.name));
    for (const row of result.summary.integrations) expect(row, row.integration).toMatchObject({ lost: 0, duplicates: 0, validInDlq: 0 });
    const servedByCrm = catalog.filter((entry) => servingProviderOf(entry).name === 'crm').map((entry) => entry.name);
    expect(servedByCrm.length).toBeGreaterThan(0);
    for (const name of servedByCrm) expect(result.summary.integrations.find((row) => row.integration === name)!.circuitOpened, name).toBeGreaterThanOrEqual(1);
  });

  it('copied the contacts with a sync that started after the outage and after the crm circuit closed', () => {
    const afterOutage = hub.executions.filter(
      (e) => e.workflow === 'contact-sync' && e.status === 'SUCCEEDED' && e.startedAt - Date.parse(result.summary.startedAt) >= outageEndMs,
    );
    expect(afterOutage.length).toBeGreaterThanOrEqual(1);
    const live = sandbox.contacts.all().filter((c) => !c.deleted).map((c) => c.id).sort();
    expect(sandbox.crm.contacts().map((c) => c.externalId).sort()).toEqual(live);
  });
});
