/**
 * `npm run add:integration -- <name> [--auth <scheme>] [--event <DetailType>] [--source <source>] [--path </resources>]
 * [--stage <stage>]`: writes a new integration's adapter (functions/integrations/<name>.ts), its test
 * (test/functions/integrations/<name>.test.ts) and its catalog entry (appended to lib/catalog.ts INTEGRATIONS), adds it
 * to a stage (stages/<stage>.json, the default stage unless --stage), and prints what to edit next. Nothing else is needed: the stack, the prober, the local hub (a generic sandbox API), the
 * demo and the tests follow the catalog. Writes nothing when any problem is found; exit code 2 then.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { AuthScheme } from '../../functions/runtime/auth-config.js';
import { adapterModulePath } from '../../functions/runtime/names.js';
import { stageNameProblem } from '../../lib/hub-naming.js';
import { DEFAULT_STAGE } from '../../lib/stage-config.js';
import {
  catalogHasEntry,
  insertCatalogEntry,
  insertStageEntry,
  placeholderBaseUrl,
  renderAdapter,
  renderAdapterTest,
  renderCatalogEntry,
  resolveScaffold,
  type ScaffoldRequest,
} from './integration-scaffold.js';

const USAGE = `Usage: npm run add:integration -- <name> [options]

Adds an integration: its adapter, its test, its catalog entry and its place in a stage. <name> is lower-kebab-case (helpdesk, crm-eu).

Options:
  --auth <scheme>     bearer (default), api_key, basic, oauth2_client_credentials, oauth2_refresh_token or none
  --event <type>      the EventBridge detail-type routed to it (default <Name>Requested)
  --source <source>   the EventBridge source routed to it (default <name>.upstream)
  --path </path>      the provider path that creates a resource (default /records)
  --stage <stage>     the stage that deploys it, stages/<stage>.json (default ${DEFAULT_STAGE})
  -h, --help          this help`;

/** The catalog file, relative to the repository root. */
export const CATALOG_FILE = 'lib/catalog.ts';

/** What {@link addIntegration} wrote, relative to the root. */
export interface ScaffoldResult {
  readonly adapter: string;
  readonly test: string;
  readonly catalog: string;
  /** The stage file it was added to. */
  readonly stage: string;
}

/** Thrown when nothing could be written; lists every problem. */
export class ScaffoldError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Cannot add the integration:\n- ${problems.join('\n- ')}`);
    this.name = 'ScaffoldError';
  }
}

/** Writes the three files and the stage entry under `root`, or nothing when any problem is found. */
export function addIntegration(root: string, request: ScaffoldRequest & { readonly stage?: string }): ScaffoldResult {
  const { scaffold, problems } = resolveScaffold(request);
  const files = {
    adapter: adapterModulePath(scaffold.name),
    test: `test/functions/integrations/${scaffold.name}.test.ts`,
    catalog: CATALOG_FILE,
    stage: `stages/${request.stage ?? DEFAULT_STAGE}.json`,
  };
  const stagePath = join(root, files.stage);
  const stageSource = existsSync(stagePath) ? readFileSync(stagePath, 'utf8') : undefined;
  const badStage = request.stage === undefined ? undefined : stageNameProblem(request.stage);
  if (badStage) problems.push(`--stage: ${badStage}`);
  else if (stageSource === undefined) problems.push(`${files.stage} not found: name an existing stage with --stage (stages/)`);
  const catalogPath = join(root, files.catalog);
  const catalogSource = existsSync(catalogPath) ? readFileSync(catalogPath, 'utf8') : undefined;
  if (catalogSource === undefined) problems.push(`${files.catalog} not found under ${root}`);
  if (problems.length === 0) {
    if (existsSync(join(root, files.adapter))) problems.push(`${files.adapter} exists already: choose another name, or name that adapter in a catalog entry (adapter: '${scaffold.name}')`);
    if (existsSync(join(root, files.test))) problems.push(`${files.test} exists already`);
    if (catalogHasEntry(catalogSource!, scaffold.name)) problems.push(`${files.catalog} has an integration named '${scaffold.name}' already`);
  }
  let catalog = '';
  let stage = '';
  if (problems.length === 0) {
    try {
      catalog = insertCatalogEntry(catalogSource!, renderCatalogEntry(scaffold));
    } catch (error) {
      problems.push((error as Error).message);
    }
    try {
      stage = insertStageEntry(stageSource!, scaffold.name, placeholderBaseUrl(scaffold.name));
    } catch (error) {
      problems.push(`${files.stage}: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new ScaffoldError(problems);

  for (const [file, text] of [
    [files.adapter, renderAdapter(scaffold)],
    [files.test, renderAdapterTest(scaffold)],
    [files.catalog, catalog],
    [files.stage, stage],
  ] as const) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  }
  return files;
}

/** What to do next, printed after the files are written. */
export function nextSteps(request: ScaffoldRequest, result: ScaffoldResult): string {
  const { scaffold } = resolveScaffold(request);
  return `Added integration '${scaffold.name}':
  ${result.adapter}   the adapter: schema, transform, call, probe, example events
  ${result.test}   its test
  ${result.catalog}   its catalog entry (route ${scaffold.source} / ${scaffold.event}, auth ${scaffold.auth})
  ${result.stage}   deploys it (its base URL there is a placeholder until you set the provider's)

Next:
  1. Edit the event schema and the transform in ${result.adapter} to the real event and the provider's API
     (docs/adapter-guide.md), and its tests.
  2. Set the provider's baseUrl in ${result.stage} (and its documented one in the catalog entry), and tune limits
     and alarms in the catalog entry (docs/configuration.md).
  3. npx tsc --noEmit && npm test        the suite covers the new integration from the catalog
  4. npm start                            the local hub serves it with a generic sandbox API and the demo sends its examples
  5. npx cdk deploy --all -c stage=<stage>, then put the credentials in the secret integration-hub/<stage>/${scaffold.name}
     (docs/deploy.md).${
       scaffold.auth === 'oauth2_refresh_token'
         ? `
     Scheme oauth2_refresh_token: set the provider's scopes in the catalog entry (the one written is a placeholder);
     the secret holds {"clientId", "clientSecret", "refreshToken"} from the customer's authorization
     (docs/oauth-refresh-tokens.md).`
         : ''
     }`;
}

function main(argv: string[]): number {
  let request: ScaffoldRequest & { stage?: string };
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        auth: { type: 'string' },
        event: { type: 'string' },
        source: { type: 'string' },
        path: { type: 'string' },
        stage: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    if (positionals.length !== 1) throw new Error(`expected one integration name, got ${positionals.length}`);
    request = { name: positionals[0]!, auth: values.auth as AuthScheme | undefined, event: values.event, source: values.source, path: values.path, stage: values.stage };
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  try {
    const result = addIntegration(root, request);
    console.log(nextSteps(request, result));
    return 0;
  } catch (error) {
    if (!(error instanceof ScaffoldError)) throw error;
    console.error(`${error.message}\n\nNothing was written (${relative(process.cwd(), root) || '.'}).`);
    return 2;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
