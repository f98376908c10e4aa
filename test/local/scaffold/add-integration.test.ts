import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AUTH_SCHEMES } from '../../../functions/runtime/auth-config.js';
import { INTEGRATIONS, REPOSITORY_ROOT } from '../../../lib/catalog.js';
import { addIntegration, CATALOG_FILE, ScaffoldError } from '../../../local/scaffold/add-integration.js';
import { insertCatalogEntry, renderCatalogEntry, resolveScaffold } from '../../../local/scaffold/integration-scaffold.js';

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
  return root;
}

/** A name no integration of the catalog has (a checkout may have scaffolded `helpdesk` already). */
function freshName(base: string): string {
  const taken = new Set(INTEGRATIONS.map((entry) => entry.name));
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
  return name;
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
    expect(result).toEqual({ adapter: `functions/integrations/${name}.ts`, test: `test/functions/integrations/${name}.test.ts`, catalog: CATALOG_FILE });
    expect(listFiles(root).sort()).toEqual([CATALOG_FILE, result.adapter, result.test].sort());

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
      else expect(entry).toContain(`auth: '${auth}'`);
    }
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
    expect(listFiles(root).sort()).toEqual([CATALOG_FILE, 'functions/integrations/ticketing.ts'].sort());
    expect(readFileSync(join(root, CATALOG_FILE), 'utf8')).toBe(readFileSync(join(REPOSITORY_ROOT, CATALOG_FILE), 'utf8'));
  });

  it('says where it could not add the entry when the catalog has no INTEGRATIONS list', () => {
    expect(() => insertCatalogEntry('export const OTHER = [];\n', '  {},\n')).toThrow(/cannot find "export const INTEGRATIONS/);
  });
});
