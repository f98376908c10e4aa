/**
 * A throwaway adapter module for tests that add an integration the way a user does: one file in
 * functions/integrations/ (the folder is the adapter registry, functions/ops/integration-adapters.ts) plus a catalog
 * entry. The name starts with `test-fixture-` (ignored by git, see .gitignore) and is unique per call, so test files
 * running at once never share one; `remove()` deletes it (call it in afterAll, it runs when a test fails too).
 */
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPOSITORY_ROOT } from '../../lib/catalog.js';
import { adapterModulePath } from '../../functions/runtime/names.js';

/** A fixture adapter written into functions/integrations/. */
export interface FixtureAdapter {
  /** The adapter's name (its file name): `test-fixture-<label>-<random>`. */
  readonly name: string;
  /** The path the adapter POSTs each ticket to. */
  readonly path: string;
  /** Deletes the module; safe to call twice. */
  remove(): void;
}

/**
 * Writes an adapter modelled on the shipped ones (functions/integrations/crm.ts): a `TicketRequested` event, keyed by
 * ticket id and version, POSTed to `path`, `{ id }` expected back; GET /health as its probe; `example(n)` gives ticket
 * `ticket-<n>`.
 */
export function writeFixtureAdapter(label: string, path = '/tickets'): FixtureAdapter {
  const name = `test-fixture-${label}-${randomBytes(4).toString('hex')}`;
  const file = join(REPOSITORY_ROOT, adapterModulePath(name));
  writeFileSync(
    file,
    `/** Written by test/support/fixture-adapter.ts for one test run; deleted when it ends. */
import { z } from 'zod';
import { defineIntegration } from '../runtime/define-integration.js';
import { MalformedResponseError } from '../runtime/errors.js';

export const ticketRequestedSchema = z.object({
  schemaVersion: z.literal('1').optional(),
  ticketId: z.string().min(1).max(128),
  version: z.number().int().nonnegative(),
  subject: z.string().min(1).max(500),
  requestedBy: z.email(),
});

const created = z.object({ id: z.string().min(1) });

export const fixture = defineIntegration({
  input: ticketRequestedSchema,
  idempotencyKey: (event) => \`ticket:\${event.ticketId}:v\${event.version}\`,
  entity: (event) => ({ type: 'ticket', id: event.ticketId, version: event.version }),
  async send(event, { http }) {
    const response = await http.post(${JSON.stringify(path)}, { externalRef: event.ticketId, version: event.version, subject: event.subject.trim(), requester: event.requestedBy.toLowerCase() });
    const answer = created.safeParse(response.body);
    if (!answer.success) throw new MalformedResponseError('the provider answered POST ${path} without an id');
    return { externalId: answer.data.id };
  },
  async probe({ http }) {
    await http.get('/health');
  },
  example: (n) => ({ schemaVersion: '1', ticketId: \`ticket-\${n}\`, version: 1, subject: \`Printer \${n} on fire\`, requestedBy: 'Ana@Example.com' }),
});

export const handler = fixture.sqsHandler;
`,
  );
  return { name, path, remove: () => rmSync(file, { force: true }) };
}
