import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AUTH_SCHEMES, authConfigProblems } from '../../../functions/runtime/auth-config.js';
import { type IntegrationEntry, INTEGRATIONS, REPOSITORY_ROOT } from '../../../lib/catalog.js';
import { addIntegration, CATALOG_FILE, ScaffoldError } from '../../../local/scaffold/add-integration.js';
import { insertCatalogEntry, insertStageEntry, placeholderBaseUrl, renderCatalogEntry, resolveScaffold } from '../../../local/scaffold/integration-scaffold.js';
import { DEFAULT_STAGE, MAX_INTEGRATIONS_PER_STACK } from '../../../lib/stage-config.js';

const DEFAULT_STAGE_FILE = `stages/${DEFAULT_STAGE}.json`;

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A scratch root holding a copy of the real catalog, so the scaffold writes where a user's checkout would. */
function scratchRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'scaffold-'));
  roots.push(root);
  mkdirSync(join(root, 'lib'), { recursive: true });
  writeFileSync(join(root, CATALOG_FILE), readFileSync(join(REPOSITORY_ROOT, CATALOG_FILE), 'utf8'));
  mkdirSync(join(root, 'stages'), { recursive: true });
  writeFileSync(join(root, DEFAULT_STAGE_FILE), readFileSync(join(REPOSITORY_ROOT, DEFAULT_STAGE_FILE), 'utf8'));
  return root;
}

/** A name no integration of the catalog has (a checkout may have scaffolded `helpdesk` already). */
function freshName(base: string): string {
  const taken = new Set(INTEGRATIONS.map((entry) => entry.name));
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
  return name;
}

/** A rendered catalog entry (an object literal followed by a comma) as the catalog's array holds it. */
function catalogEntryOf(entry: string): IntegrationEntry {
  return new Function(`return [\n${entry}][0];`)() as IntegrationEntry;
}

function listFiles(root: string, dir = ''): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(root, join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

describe('npm run add:integration', () => {
  it('writes exactly the adapter, its test and the catalog entry', () => {
    const root = scratchRoot();
    const name = freshName('helpdesk');
    const request = { name, auth: 'api_key', event: 'TicketRequested', path: '/tickets' } as const;
    const result = addIntegration(root, request);
    expect(result).toEqual({ adapter: `functions/integrations/${name}.ts`, test: `test/functions/integrations/${name}.test.ts`, catalog: CATALOG_FILE, stage: DEFAULT_STAGE_FILE });
    expect(listFiles(root).sort()).toEqual([CATALOG_FILE, DEFAULT_STAGE_FILE, result.adapter, result.test].sort());
    // The default stage deploys it, at the placeholder URL until the provider's is set; nothing else of the stage changes.
    const stage = JSON.parse(readFileSync(join(root, DEFAULT_STAGE_FILE), 'utf8'));
    const originalStage = JSON.parse(readFileSync(join(REPOSITORY_ROOT, DEFAULT_STAGE_FILE), 'utf8'));
    expect(stage.integrations[name]).toEqual({ baseUrl: placeholderBaseUrl(name) });
    delete stage.integrations[name];
    expect(stage).toEqual(originalStage);

    const adapter = readFileSync(join(root, result.adapter), 'utf8');
    expect(adapter).toContain("await http.post('/tickets'");
    expect(adapter).toContain(`export const handler = ${resolveScaffold(request).scaffold.variable}.sqsHandler;`);
    expect(adapter).not.toContain('connection');
    const catalog = readFileSync(join(root, CATALOG_FILE), 'utf8');
    const original = readFileSync(join(REPOSITORY_ROOT, CATALOG_FILE), 'utf8');
    // Only the entry is added, inside INTEGRATIONS, after the entries already there.
    const entry = renderCatalogEntry(resolveScaffold(request).scaffold);
    expect(catalog.replace(entry, '')).toBe(original);
    expect(catalog.indexOf(entry)).toBeGreaterThan(catalog.indexOf('export const INTEGRATIONS'));
    expect(catalog.indexOf(entry)).toBeLessThan(catalog.indexOf('/** Context overrides'));
    expect(entry).toContain("auth: 'api_key'");
    expect(entry).toContain(`routes: [{ sources: ['${name}.upstream'], detailTypes: ['TicketRequested'] }]`);
  });

  it('writes an OAuth2 entry with its token URL, and a valid entry for every scheme', () => {
    for (const auth of AUTH_SCHEMES) {
      const { scaffold, problems } = resolveScaffold({ name: 'svc', auth });
      expect(problems).toEqual([]);
      const entry = renderCatalogEntry(scaffold);
      if (auth === 'oauth2_client_credentials') expect(entry).toContain("auth: { scheme: 'oauth2_client_credentials', tokenUrl: '/oauth/token' }");
      else if (auth === 'oauth2_refresh_token') expect(entry).toContain("auth: { scheme: 'oauth2_refresh_token', tokenUrl: '/oauth/token', scopes: ['records:write'] }");
      else expect(entry).toContain(`auth: '${auth}'`);
      // The entry as the catalog reads it: its auth passes the runtime's own check (what synth applies).
      expect(authConfigProblems(catalogEntryOf(entry).auth), auth).toEqual([]);
    }
  });

  it('writes a refresh-token entry with the token endpoint and a placeholder scope named after the resource', () => {
    const root = scratchRoot();
    const name = freshName('helpdesk');
    const result = addIntegration(root, { name, auth: 'oauth2_refresh_token', path: '/tickets' });
    const entry = renderCatalogEntry(resolveScaffold({ name, auth: 'oauth2_refresh_token', path: '/tickets' }).scaffold);
    expect(readFileSync(join(root, result.catalog), 'utf8')).toContain(entry);
    expect(catalogEntryOf(entry).auth).toEqual({ scheme: 'oauth2_refresh_token', tokenUrl: '/oauth/token', scopes: ['tickets:write'] });
    expect(entry).toContain('a placeholder');
    // The adapter declares no connection: it only names the catalog entry's scheme in its header comment.
    expect(readFileSync(join(root, result.adapter), 'utf8')).toContain("auth 'oauth2_refresh_token'");
  });

  it('refuses, writing nothing, a bad name, an unknown scheme, a name in use and an adapter file that exists', () => {
    const root = scratchRoot();
    const attempt = (request: Parameters<typeof addIntegration>[1]) => {
      try {
        addIntegration(root, request);
      } catch (error) {
        expect(error).toBeInstanceOf(ScaffoldError);
        return (error as ScaffoldError).problems;
      }
      throw new Error('expected a ScaffoldError');
    };
    expect(attempt({ name: 'Help Desk', auth: 'kerberos' as never, path: 'tickets' })).toEqual([
      expect.stringContaining('name must be lower-kebab-case'),
      expect.stringContaining('--auth must be one of'),
      expect.stringContaining('--path must be a lower-case path'),
    ]);
    const existing = INTEGRATIONS[0]!.name;
    expect(attempt({ name: existing })).toEqual([expect.stringContaining(`lib/catalog.ts has an integration named '${existing}' already`)]);
    mkdirSync(join(root, 'functions/integrations'), { recursive: true });
    writeFileSync(join(root, 'functions/integrations/ticketing.ts'), '// someone else\'s adapter\n');
    expect(attempt({ name: 'ticketing' })).toEqual([expect.stringContaining('functions/integrations/ticketing.ts exists already')]);
    expect(listFiles(root).sort()).toEqual([CATALOG_FILE, DEFAULT_STAGE_FILE, 'functions/integrations/ticketing.ts'].sort());
    expect(readFileSync(join(root, CATALOG_FILE), 'utf8')).toBe(readFileSync(join(REPOSITORY_ROOT, CATALOG_FILE), 'utf8'));
  });

  it('says where it could not add the entry when the catalog has no INTEGRATIONS list', () => {
    expect(() => insertCatalogEntry('export const OTHER = [];\n', '  {},\n')).toThrow(/cannot find "export const INTEGRATIONS/);
  });

  it('adds to the stage named by --stage, in the last stack group with room, a new one when all are full', () => {
    const full = Object.fromEntries(Array.from({ length: MAX_INTEGRATIONS_PER_STACK }, (_, i) => [`made-up-${i}`, { baseUrl: 'https://x.example' }]));
    const next = JSON.parse(insertStageEntry(JSON.stringify({ alarmEmail: null, integrations: full }), 'newcomer', 'https://newcomer.example'));
    expect(next.integrations.newcomer).toEqual({ baseUrl: 'https://newcomer.example', stack: 'integrations-2' });
    const roomy = JSON.parse(insertStageEntry(JSON.stringify({ integrations: { a: { stack: 'integrations-2' } } }), 'b', 'https://b.example'));
    expect(roomy.integrations.b).toEqual({ baseUrl: 'https://b.example', stack: 'integrations-2' });
    // A sandbox stage takes no base URL: its sandbox serves the integration.
    expect(JSON.parse(insertStageEntry(JSON.stringify({ sandbox: true, integrations: {} }), 'c', 'https://c.example')).integrations.c).toEqual({});
    expect(() => insertStageEntry(JSON.stringify({ integrations: { c: {} } }), 'c', 'https://c.example')).toThrow(/names integration 'c' already/);
  });

  it('refuses, writing nothing, a stage that has no file or a bad stage name', () => {
    const root = scratchRoot();
    const name = freshName('helpdesk');
    expect(() => addIntegration(root, { name, stage: 'nowhere' })).toThrow(/stages\/nowhere\.json not found/);
    expect(() => addIntegration(root, { name, stage: '../lib' })).toThrow(/--stage: stage must be lower-kebab-case/);
    expect(listFiles(root).sort()).toEqual([CATALOG_FILE, DEFAULT_STAGE_FILE].sort());
  });
});
