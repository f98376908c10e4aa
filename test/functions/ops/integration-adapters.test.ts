import { describe, expect, it } from 'vitest';
import { loadAdapter, loadAdapters } from '../../../functions/ops/integration-adapters.js';
import { isIntegrationAdapter } from '../../../functions/runtime/define-integration.js';
import { ConfigurationError } from '../../../functions/runtime/errors.js';
import { INTEGRATIONS, resolveCatalog } from '../../../lib/catalog.js';

const catalogAdapters = [...new Set(resolveCatalog(INTEGRATIONS).map((entry) => entry.adapter))];

describe('the adapter loader', () => {
  it('loads every adapter the catalog names, each once', async () => {
    const adapters = await loadAdapters([...catalogAdapters, ...catalogAdapters]);
    expect([...adapters.keys()]).toEqual(catalogAdapters);
    for (const adapter of adapters.values()) expect(isIntegrationAdapter(adapter)).toBe(true);
  });

  it('refuses a name that breaks the naming rule before importing anything (no path tricks)', async () => {
    await expect(loadAdapter('../runtime/errors')).rejects.toThrow(ConfigurationError);
    await expect(loadAdapter('../runtime/errors')).rejects.toThrow(/adapter must be lower-kebab-case/);
  });

  it('names the adapter and its module when the module does not exist', async () => {
    await expect(loadAdapter('no-such-adapter')).rejects.toThrow(/adapter 'no-such-adapter' cannot be loaded from functions\/integrations\/no-such-adapter\.ts/);
  });

  it('reports every adapter that fails, at once', async () => {
    const failure = await loadAdapters(['missing-one', catalogAdapters[0]!, 'missing-two']).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConfigurationError);
    expect((failure as ConfigurationError).problems).toEqual([
      expect.stringContaining("'missing-one'"),
      expect.stringContaining("'missing-two'"),
    ]);
  });
});
