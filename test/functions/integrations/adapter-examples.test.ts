import { describe, expect, it } from 'vitest';
import { loadAdapters } from '../../../functions/ops/integration-adapters.js';
import { SchemaEvolution } from '../../../functions/runtime/schema-evolution.js';
import { INTEGRATIONS, resolveCatalog } from '../../../lib/catalog.js';
import { checkSchema } from '../../../functions/runtime/schema.js';

const EXAMPLES = 20;
const catalog = resolveCatalog(INTEGRATIONS);
const adapters = await loadAdapters(catalog.map((entry) => entry.adapter));

describe('adapter examples (what npm start publishes)', () => {
  for (const entry of catalog) {
    it(`${entry.name}: every example is valid input of its adapter, and each is a different operation`, () => {
      const definition = adapters.get(entry.adapter)!.bind(entry.name);
      const versions = new SchemaEvolution(definition, entry.name);
      const keys = new Set<string>();
      for (let n = 0; n < EXAMPLES; n++) {
        const current = versions.toCurrent(definition.example!(n));
        expect(current, `example ${n}`).not.toBeInstanceOf(Error);
        const parsed = checkSchema(definition.input, (current as { payload: unknown }).payload);
        expect(parsed.success, `example ${n}: ${parsed.error?.message}`).toBe(true);
        keys.add(definition.idempotencyKey(parsed.data));
      }
      expect(keys.size).toBe(EXAMPLES);
    });
  }
});
