/**
 * What `npm run add:integration` writes, as text: the adapter file, its test and its catalog entry. Pure functions,
 * so the files are tested without touching the repository (test/local/scaffold/). The adapter follows the contract of
 * docs/adapter-guide.md: a schema, a transform, a call, a probe and example events; its connection (auth, base URL,
 * timeouts) is the catalog entry's.
 */
import { AUTH_SCHEMES, type AuthScheme } from '../../functions/runtime/auth-config.js';
import { nameProblem } from '../../functions/runtime/names.js';
import { pascalCase } from '../../lib/catalog.js';
import { DEFAULT_STACK_GROUP, MAX_INTEGRATIONS_PER_STACK } from '../../lib/stage-config.js';

/** What the scaffold is asked for. */
export interface ScaffoldRequest {
  /** The integration's (and its adapter's) lower-kebab-case name. */
  readonly name: string;
  /** @default 'bearer' */
  readonly auth?: AuthScheme;
  /** The EventBridge detail-type routed to it. @default `<Name>Requested` */
  readonly event?: string;
  /** The EventBridge source routed to it. @default `<name>.upstream` */
  readonly source?: string;
  /** The provider path that creates the resource. @default '/records' */
  readonly path?: string;
}

/** A request with every default applied. */
export interface ResolvedScaffold {
  readonly name: string;
  readonly auth: AuthScheme;
  readonly event: string;
  readonly source: string;
  readonly path: string;
  /** `helpdesk` → `helpdesk`, `crm-eu` → `crmEu`: the adapter's variable. */
  readonly variable: string;
  /** `/tickets` → `ticket`: the ledger entity type and idempotency key prefix. */
  readonly entityType: string;
  /** `HelpdeskRequested` → `HelpdeskRequested`: the event type's name in code. */
  readonly eventType: string;
}

const DETAIL_TYPE = /^[A-Za-z][A-Za-z0-9.-]{0,127}$/;
const SOURCE = /^[a-z0-9][a-z0-9._-]{0,255}$/;
const PATH = /^(\/[a-z0-9][a-z0-9_-]*)+$/;

/** Applies the defaults and lists every problem of the request (empty when it can be written). */
export function resolveScaffold(request: ScaffoldRequest): { scaffold: ResolvedScaffold; problems: string[] } {
  const problems: string[] = [];
  const badName = nameProblem(request.name);
  if (badName) problems.push(badName);
  const name = request.name;
  const auth = request.auth ?? 'bearer';
  if (!AUTH_SCHEMES.includes(auth)) problems.push(`--auth must be one of ${AUTH_SCHEMES.join(', ')} (got ${JSON.stringify(auth)})`);
  const pascal = badName ? 'Integration' : pascalCase(name);
  const event = request.event ?? `${pascal}Requested`;
  if (!DETAIL_TYPE.test(event)) problems.push(`--event must be an EventBridge detail-type like TicketRequested (got ${JSON.stringify(event)})`);
  const source = request.source ?? `${name}.upstream`;
  // A source derived from a bad name would only repeat the name's problem.
  if (!(badName && request.source === undefined) && !SOURCE.test(source)) problems.push(`--source must be an EventBridge source like helpdesk.service (got ${JSON.stringify(source)})`);
  const path = request.path ?? '/records';
  if (!PATH.test(path)) problems.push(`--path must be a lower-case path like /tickets (got ${JSON.stringify(path)})`);
  const lastSegment = path.split('/').at(-1) ?? 'record';
  const entityType = lastSegment.length > 1 && lastSegment.endsWith('s') ? lastSegment.slice(0, -1) : lastSegment;
  const variable = pascal[0]!.toLowerCase() + pascal.slice(1);
  return { scaffold: { name, auth, event, source, path, variable, entityType, eventType: pascalCase(event) }, problems };
}

/** The adapter file, functions/integrations/<name>.ts. */
export function renderAdapter(s: ResolvedScaffold): string {
  const resource = `${pascalCase(s.name)}${pascalCase(s.entityType)}`;
  return `/**
 * ${s.name}: \`${s.event}\` events become ${s.entityType}s at the provider (POST ${s.path}).
 * Written by \`npm run add:integration\`: replace the example fields by the event's and the provider's, then the
 * tests in test/functions/integrations/${s.name}.test.ts. The contract: docs/adapter-guide.md. How the provider is
 * reached (base URL, auth '${s.auth}', secret, timeouts) is the catalog entry's, in lib/catalog.ts.
 */
// zod/mini: functions take the schema (\`z.optional(s)\`, \`s.check(z.minLength(1))\`), so the bundler keeps only the zod
// code used — about 25 KB against 90 KB for classic zod's method-laden schemas (functions/runtime/schema.ts).
import * as z from 'zod/mini';
import { defineIntegration } from '../runtime/define-integration.js';

/** \`${s.event}\` event, schemaVersion 1. */
export const ${s.variable}EventSchema = z.object({
  schemaVersion: z.optional(z.literal('1')),
  /** The upstream id of the ${s.entityType}; with \`version\` it names the operation (idempotency key, ledger). */
  id: z.string().check(z.minLength(1), z.maxLength(128)),
  /** Grows with every change upstream: an older version is never sent after a newer one. */
  version: z.int().check(z.nonnegative()),
  title: z.string().check(z.minLength(1), z.maxLength(500)),
  requestedBy: z.email(),
  occurredAt: z.iso.datetime({ offset: true }),
});

export type ${s.eventType} = z.infer<typeof ${s.variable}EventSchema>;

/** The provider's ${s.entityType} as it accepts it. */
export interface ${resource} {
  externalRef: string;
  version: number;
  title: string;
  requester: string;
  occurredAt: string;
}

/** Maps the event to the provider's shape: trimmed title, lower-case requester, UTC timestamp. */
export function to${resource}(event: ${s.eventType}): ${resource} {
  return {
    externalRef: event.id,
    version: event.version,
    title: event.title.trim(),
    requester: event.requestedBy.toLowerCase(),
    occurredAt: new Date(event.occurredAt).toISOString(),
  };
}

const created = z.object({ id: z.string().check(z.minLength(1)) });

export const ${s.variable} = defineIntegration({
  input: ${s.variable}EventSchema,
  idempotencyKey: (event) => \`${s.entityType}:\${event.id}:v\${event.version}\`,
  entity: (event) => ({ type: '${s.entityType}', id: event.id, version: event.version }),
  async send(event, { http }) {
    // The schema is checked inside the call: an answer without an id counts against the circuit and is retried.
    const response = await http.post('${s.path}', to${resource}(event), { schema: created });
    return { externalId: response.body.id };
  },
  async probe({ http }) {
    await http.get('/health');
  },
  example: (n) => ({
    schemaVersion: '1',
    id: \`${s.entityType}-\${n}\`,
    version: 1,
    title: \`Example ${s.entityType} \${n}\`,
    requestedBy: 'ana@example.com',
    occurredAt: '2026-12-01T09:00:00Z',
  }),
});

/** The Lambda entry. */
export const handler = ${s.variable}.sqsHandler;
`;
}

/** The adapter's test, test/functions/integrations/<name>.test.ts. */
export function renderAdapterTest(s: ResolvedScaffold): string {
  const resource = `${pascalCase(s.name)}${pascalCase(s.entityType)}`;
  return `import { describe, expect, it } from 'vitest';
import { parse, safeParse } from 'zod/mini';
import { ${s.variable}, ${s.variable}EventSchema, to${resource} } from '../../../functions/integrations/${s.name}.js';
import { checkSchema } from '../../../functions/runtime/schema.js';
import { sendWith } from '../../support/adapter-test-kit.js';

const event = parse(${s.variable}EventSchema, ${s.variable}.definition.example(0));

describe('${s.name} adapter', () => {
  it('maps the event to the provider shape', () => {
    expect(to${resource}({ ...event, title: '  Printer on fire ', requestedBy: 'Ana@Example.COM', occurredAt: '2026-12-01T10:00:00+01:00' })).toEqual({
      externalRef: event.id,
      version: event.version,
      title: 'Printer on fire',
      requester: 'ana@example.com',
      occurredAt: '2026-12-01T09:00:00.000Z',
    });
  });

  it('refuses an event without an id (poison: DLQ with the reason, never retried)', () => {
    const { id: _id, ...withoutId } = event;
    expect(safeParse(${s.variable}EventSchema, withoutId).success).toBe(false);
  });

  it('keys each operation by id and version', () => {
    expect(${s.variable}.definition.idempotencyKey(event)).toBe(\`${s.entityType}:\${event.id}:v\${event.version}\`);
    expect(${s.variable}.definition.idempotencyKey({ ...event, version: event.version + 1 })).not.toBe(${s.variable}.definition.idempotencyKey(event));
    expect(${s.variable}.definition.entity(event)).toEqual({ type: '${s.entityType}', id: event.id, version: event.version });
  });

  it('posts the mapped ${s.entityType} and keeps the provider id', async () => {
    const { result, requests } = await sendWith(${s.variable}.definition, event, { status: 201, body: { id: '${s.entityType}_1' } });
    expect(requests.map(({ schema: _schema, ...request }) => request)).toEqual([{ method: 'POST', path: '${s.path}', body: to${resource}(event) }]);
    expect(result).toEqual({ externalId: '${s.entityType}_1' });
  });

  it('treats a 2xx without an id as a malformed answer (retried, never recorded as synced)', async () => {
    // The runtime's HTTP client checks the answer against the request's schema: a mismatch is a MalformedResponseError.
    const { requests } = await sendWith(${s.variable}.definition, event, { status: 200, body: { ok: true } });
    const schema = requests[0]?.schema;
    expect(schema).toBeDefined();
    expect(checkSchema(schema!, { ok: true }).success).toBe(false);
    expect(checkSchema(schema!, { id: '${s.entityType}_1' }).success).toBe(true);
  });
});
`;
}

/** The catalog entry, as the text inserted into lib/catalog.ts INTEGRATIONS. */
export function renderCatalogEntry(s: ResolvedScaffold): string {
  return `  {
    name: '${s.name}',
    description: '${s.event} events become ${s.entityType}s at ${s.name} (written by npm run add:integration).',
    routes: [{ sources: ['${s.source}'], detailTypes: ['${s.event}'] }],
    // The provider's documented URL; each stage names the one it calls (stages/<stage>.json).
    baseUrl: 'https://${s.name}.example.com',
${renderAuth(s)}  },
`;
}

/** The entry's `auth` line(s): the OAuth2 schemes need their token endpoint, the refresh-token one its scopes too. */
function renderAuth(s: ResolvedScaffold): string {
  if (s.auth === 'oauth2_client_credentials') return "    auth: { scheme: 'oauth2_client_credentials', tokenUrl: '/oauth/token' },\n";
  if (s.auth === 'oauth2_refresh_token') {
    // A placeholder scope named after the resource written; the provider's documentation names the real ones.
    const collection = s.path.split('/').at(-1) ?? 'records';
    return (
      "    // The provider's token endpoint, and the fewest scopes POST " + s.path + ' needs (a placeholder: see docs/oauth-refresh-tokens.md).\n' +
      `    auth: { scheme: 'oauth2_refresh_token', tokenUrl: '/oauth/token', scopes: ['${collection}:write'] },\n`
    );
  }
  return `    auth: '${s.auth}',\n`;
}

/** The marker the catalog's list of integrations starts with; the entry goes before the list's closing bracket. */
export const INTEGRATIONS_START = 'export const INTEGRATIONS: readonly IntegrationEntry[] = [\n';

/** `catalogSource` with `entry` appended to INTEGRATIONS; throws when the list cannot be found. */
export function insertCatalogEntry(catalogSource: string, entry: string): string {
  const start = catalogSource.indexOf(INTEGRATIONS_START);
  if (start < 0) throw new Error(`lib/catalog.ts: cannot find "${INTEGRATIONS_START.trim()}" to add the entry to`);
  const end = catalogSource.indexOf('\n];\n', start);
  if (end < 0) throw new Error('lib/catalog.ts: cannot find the end of INTEGRATIONS (a line "];")');
  return `${catalogSource.slice(0, end + 1)}${entry}${catalogSource.slice(end + 1)}`;
}

/** True when the catalog source already has an entry named `name`. */
export function catalogHasEntry(catalogSource: string, name: string): boolean {
  return new RegExp(`\\bname: '${name}'`).test(catalogSource);
}

/** The catalog's placeholder base URL of a scaffolded integration (renderCatalogEntry), written to a stage until the real one is known. */
export function placeholderBaseUrl(name: string): string {
  return `https://${name}.example.com`;
}

/**
 * `stageSource` (a stages/<stage>.json) with integration `name` added: its base URL (none in a sandbox stage, whose
 * sandbox serves it), in the last stack group that has room, or a new group when all are full (lib/stage-config.ts
 * MAX_INTEGRATIONS_PER_STACK). Throws when the file is not a stage's JSON or already names the integration.
 */
export function insertStageEntry(stageSource: string, name: string, baseUrl: string): string {
  let stage: { sandbox?: boolean; integrations?: Record<string, { stack?: string }> };
  try {
    stage = JSON.parse(stageSource) as typeof stage;
  } catch (error) {
    throw new Error(`the stage file is not JSON: ${(error as Error).message}`);
  }
  const integrations = stage.integrations;
  if (typeof integrations !== 'object' || integrations === null) throw new Error('the stage file has no "integrations" object');
  if (name in integrations) throw new Error(`the stage names integration '${name}' already`);
  const sizes = new Map<string, number>();
  for (const entry of Object.values(integrations)) sizes.set(entry.stack ?? DEFAULT_STACK_GROUP, (sizes.get(entry.stack ?? DEFAULT_STACK_GROUP) ?? 0) + 1);
  const groups = [...sizes.keys()];
  let group = groups.findLast((candidate) => sizes.get(candidate)! < MAX_INTEGRATIONS_PER_STACK) ?? DEFAULT_STACK_GROUP;
  if ((sizes.get(group) ?? 0) >= MAX_INTEGRATIONS_PER_STACK) {
    let n = groups.length + 1;
    while (sizes.has(`${DEFAULT_STACK_GROUP}-${n}`)) n++;
    group = `${DEFAULT_STACK_GROUP}-${n}`;
  }
  integrations[name] = {
    ...(stage.sandbox ? {} : { baseUrl }),
    ...(group !== DEFAULT_STACK_GROUP ? { stack: group } : {}),
  };
  return `${JSON.stringify(stage, null, 2)}\n`;
}
