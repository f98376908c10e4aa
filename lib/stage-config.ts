/**
 * Stages: one named, versioned file per deployment of the hub, `stages/<name>.json` (docs/configuration.md
 * "Stage files"). The catalog says what an integration is (lib/catalog.ts); the stage says which integrations a
 * deployment runs, where their providers are, which secrets to import or create, who gets the alarms and how the
 * integrations are grouped into stacks. `npx cdk deploy --all -c stage=<name>` needs nothing else; a missing or
 * invalid file fails synth with every problem listed.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RemovalPolicy } from 'aws-cdk-lib';
import { z } from 'zod';
import { ConfigurationError } from '../functions/runtime/errors.js';
import { nameProblem } from '../functions/runtime/names.js';
import { INTEGRATIONS, type IntegrationEntry, REPOSITORY_ROOT } from './catalog.js';
import { HubNaming, stageNameProblem } from './hub-naming.js';
import { PROVIDERS, type ProviderEntry, WORKFLOWS, type WorkflowsCatalog } from './workflow-catalog.js';

/** Where the stage files are. */
export const STAGES_DIRECTORY = join(REPOSITORY_ROOT, 'stages');

/** The stage `cdk synth` and `cdk deploy` use without `-c stage=` (cdk.json's context `stage`). */
export const DEFAULT_STAGE = 'dev';

/** The stacks a stage has besides its integration groups (lib/hub-stage.ts): no group may be named like them. */
export const RESERVED_STACK_PARTS: readonly string[] = ['sandbox', 'core', 'webhooks', 'workflows', 'overview'];

/** The stack group an integration is in when its stage entry names none. */
export const DEFAULT_STACK_GROUP = 'integrations';

/**
 * Most integrations one stack holds. Each adds about 20 resources (pipeline, alarms, dashboard, circuit
 * registration); 15 keep an integration stack near 305, well under CloudFormation's 500 (test/lib/hub-stage.test.ts
 * synthesizes a 60-integration stage and checks every stack).
 */
export const MAX_INTEGRATIONS_PER_STACK = 15;

const httpsUrl = z.string().refine((value) => {
  try {
    return new URL(value).protocol === 'https:';
  } catch {
    return false;
  }
}, 'must be an https URL');

const secretChoice = z
  .strictObject({ import: z.string().min(1).describe('name or ARN of an existing Secrets Manager secret') })
  .describe('import an existing secret; leave out to have the stack create one');

const stageIntegration = z.strictObject({
  baseUrl: httpsUrl.optional(),
  secret: secretChoice.optional(),
  webhookSecret: secretChoice.optional().describe("the webhook signing secret to import (integrations that declare webhooks); leave out to have the stack create one"),
  maxConcurrency: z.int().min(2).max(1000).optional(),
  stack: z.string().optional(),
});

const stageProvider = z.strictObject({ baseUrl: httpsUrl.optional(), secret: secretChoice.optional() });

const stageFile = z.strictObject({
  $schema: z.string().optional(),
  description: z.string().optional(),
  account: z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id').optional(),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1').optional(),
  alarmEmail: z.email().nullable(),
  runbookBaseUrl: httpsUrl.optional(),
  removalPolicy: z.enum(['retain', 'destroy']).optional(),
  sandbox: z.boolean().optional(),
  integrations: z.record(z.string(), stageIntegration),
  workflows: z
    .union([
      z.literal(false),
      z.strictObject({
        contactSyncSchedule: z.boolean().optional(),
        providers: z.record(z.string(), stageProvider).optional(),
      }),
    ])
    .optional(),
});

/** A stage file as written. */
export type StageFile = z.infer<typeof stageFile>;

/** One stack's worth of integrations. */
export interface StackGroup {
  /** The group's name (lower-kebab-case): the stack is `IntegrationHub-<stage>-<group>`. */
  readonly name: string;
  /** The integrations in it, in stage-file order. */
  readonly integrations: readonly string[];
}

/** A stage, checked and merged with the catalog: what the stage's stacks are built from (lib/hub-stage.ts). */
export interface ResolvedStage {
  readonly name: string;
  readonly description?: string;
  readonly naming: HubNaming;
  readonly env?: { readonly account?: string; readonly region?: string };
  /** Catalog entries of the stage's integrations with its base URLs, secrets and concurrency applied. */
  readonly integrations: readonly IntegrationEntry[];
  /** The integrations grouped into stacks. */
  readonly groups: readonly StackGroup[];
  /** The workflows, or null when the stage runs none. */
  readonly workflows: WorkflowsCatalog | null;
  /** Workflow providers with the stage's base URLs and secrets applied. */
  readonly providers: readonly ProviderEntry[];
  readonly contactSyncSchedule: boolean;
  readonly alarmEmail?: string;
  readonly runbookBaseUrl?: string;
  readonly removalPolicy: RemovalPolicy;
  /** The `try` stage: the sandbox APIs are deployed and every base URL points at them (docs/deploy.md). */
  readonly sandbox: boolean;
}

/** Thrown for a missing or invalid stage; lists every problem. */
export class StageConfigError extends ConfigurationError {
  constructor(stage: string, problems: readonly string[]) {
    super(`Stage '${stage}' is invalid (stages/${stage}.json):\n- ${problems.join('\n- ')}`, problems);
    this.name = 'StageConfigError';
  }
}

/** The stages in the repository, by file name. */
export function stageNames(directory = STAGES_DIRECTORY): string[] {
  if (!existsSync(directory)) return [];
  return readdirSync(directory)
    .filter((file) => file.endsWith('.json'))
    .map((file) => file.slice(0, -'.json'.length))
    .sort();
}

/** Reads and resolves `stages/<name>.json`; throws a {@link StageConfigError} listing every problem. */
export function loadStage(name: string, options: { directory?: string; catalog?: StageCatalog } = {}): ResolvedStage {
  const directory = options.directory ?? STAGES_DIRECTORY;
  const badName = stageNameProblem(name);
  if (badName) throw new StageConfigError(name, [badName]);
  const path = join(directory, `${name}.json`);
  if (!existsSync(path)) {
    const known = stageNames(directory);
    throw new StageConfigError(name, [`there is no file stages/${name}.json (stages: ${known.length > 0 ? known.join(', ') : 'none'})`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new StageConfigError(name, [`stages/${name}.json is not JSON: ${(error as Error).message}`]);
  }
  return resolveStage(name, raw, options.catalog);
}

/** The catalogs a stage selects from; the shipped ones by default. */
export interface StageCatalog {
  readonly integrations?: readonly IntegrationEntry[];
  readonly workflows?: WorkflowsCatalog;
  readonly providers?: readonly ProviderEntry[];
}

/** Checks a stage file's content against the catalogs and merges them; throws a {@link StageConfigError}. */
export function resolveStage(name: string, raw: unknown, catalog: StageCatalog = {}): ResolvedStage {
  const { integrations: catalogIntegrations = INTEGRATIONS, workflows: catalogWorkflows = WORKFLOWS, providers: catalogProviders = PROVIDERS } = catalog;
  const parsed = stageFile.safeParse(raw);
  if (!parsed.success) {
    throw new StageConfigError(
      name,
      parsed.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(file)'}: ${issue.message}`),
    );
  }
  const file = parsed.data;
  const problems: string[] = [];
  const naming = new HubNaming(name);
  const sandbox = file.sandbox ?? false;

  const integrations: IntegrationEntry[] = [];
  const groups = new Map<string, string[]>();
  const selected = Object.entries(file.integrations);
  if (selected.length === 0) problems.push('integrations: name at least one catalog integration');
  for (const [integrationName, settings] of selected) {
    const where = `integrations.${integrationName}`;
    const entry = catalogIntegrations.find((candidate) => candidate.name === integrationName);
    if (!entry) {
      problems.push(`${where}: the catalog has no such integration (lib/catalog.ts has: ${catalogIntegrations.map((e) => e.name).join(', ')})`);
      continue;
    }
    problems.push(...locationProblems(where, settings, sandbox));
    if (sandbox && entry.secret?.import) problems.push(`${where}: the catalog imports its secret '${entry.secret.name}'; a sandbox stage creates the secrets the sandbox checks`);
    if (settings.webhookSecret && !entry.webhooks) problems.push(`${where}.webhookSecret: the catalog entry declares no webhooks`);
    if (settings.webhookSecret && sandbox) problems.push(`${where}.webhookSecret: a sandbox stage creates the signing secret its senders sign with; leave it out`);
    const group = settings.stack ?? DEFAULT_STACK_GROUP;
    const badGroup = nameProblem(group, `${where}.stack`);
    if (badGroup) problems.push(badGroup);
    else if (RESERVED_STACK_PARTS.includes(group)) problems.push(`${where}.stack: '${group}' names one of the stage's own stacks (${RESERVED_STACK_PARTS.join(', ')}); choose another`);
    groups.set(group, [...(groups.get(group) ?? []), integrationName]);
    integrations.push({
      ...entry,
      ...(settings.baseUrl ? { baseUrl: settings.baseUrl } : {}),
      ...(settings.maxConcurrency !== undefined ? { maxConcurrency: settings.maxConcurrency } : {}),
      secret: stageSecret(naming, integrationName, settings.secret, entry.secret),
      ...(settings.webhookSecret && entry.webhooks ? { webhooks: { ...entry.webhooks, secret: { name: settings.webhookSecret.import, import: true } } } : {}),
    });
  }
  for (const [group, members] of groups) {
    if (members.length > MAX_INTEGRATIONS_PER_STACK) {
      problems.push(
        `stack group '${group}' holds ${members.length} integrations, at most ${MAX_INTEGRATIONS_PER_STACK} fit one stack: ` +
          `give the ones after the ${MAX_INTEGRATIONS_PER_STACK}th another "stack" (moving an integration between stacks replaces its queues, see docs/deploy.md)`,
      );
    }
  }

  let workflows: WorkflowsCatalog | null = null;
  const providers: ProviderEntry[] = [];
  if (file.workflows !== false) {
    workflows = catalogWorkflows;
    const stageProviders = file.workflows?.providers ?? {};
    for (const providerName of Object.keys(stageProviders)) {
      if (!catalogProviders.some((provider) => provider.name === providerName)) {
        problems.push(`workflows.providers.${providerName}: the workflow catalog has no such provider (lib/workflow-catalog.ts has: ${catalogProviders.map((p) => p.name).join(', ')})`);
      }
    }
    for (const provider of catalogProviders) {
      const settings = stageProviders[provider.name] ?? {};
      const where = `workflows.providers.${provider.name}`;
      if (provider.integration !== undefined) {
        if (settings.baseUrl || settings.secret) problems.push(`${where}: is integration '${provider.integration}''s provider: set its base URL and secret under integrations.${provider.integration}`);
        if (!file.integrations[provider.integration]) problems.push(`workflows: provider '${provider.name}' needs integration '${provider.integration}' in this stage (or set "workflows": false)`);
        providers.push(provider);
        continue;
      }
      problems.push(...locationProblems(where, settings, sandbox));
      providers.push({
        ...provider,
        ...(settings.baseUrl ? { baseUrl: settings.baseUrl } : {}),
        secret: stageSecret(naming, provider.name, settings.secret, provider.secret),
      });
    }
  }

  if (problems.length > 0) throw new StageConfigError(name, problems);
  return {
    name,
    ...(file.description !== undefined ? { description: file.description } : {}),
    naming,
    ...(file.account || file.region ? { env: { account: file.account, region: file.region } } : {}),
    integrations,
    groups: [...groups].map(([group, members]) => ({ name: group, integrations: members })),
    workflows,
    providers,
    contactSyncSchedule: file.workflows === false ? false : (file.workflows?.contactSyncSchedule ?? false),
    ...(file.alarmEmail ? { alarmEmail: file.alarmEmail } : {}),
    ...(file.runbookBaseUrl ? { runbookBaseUrl: file.runbookBaseUrl } : {}),
    removalPolicy: file.removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    sandbox,
  };
}

/**
 * A deployed stage names every provider's location: the catalog's base URL is the provider's documented one, and a
 * stage that silently fell back to it would send real credentials wherever the catalog points. The `try` stage
 * names none: the sandbox is the provider.
 */
function locationProblems(where: string, settings: { baseUrl?: string; secret?: unknown }, sandbox: boolean): string[] {
  if (sandbox) {
    return [
      ...(settings.baseUrl ? [`${where}.baseUrl: a sandbox stage points every integration at the sandbox APIs; leave it out`] : []),
      ...(settings.secret ? [`${where}.secret: a sandbox stage creates the secrets the sandbox checks; leave it out`] : []),
    ];
  }
  return settings.baseUrl ? [] : [`${where}.baseUrl: required (the provider's https URL for this stage)`];
}

/**
 * The secret a stage gives an integration or provider: the one it imports, else the catalog's import, else one the
 * stack creates under the stage's name (`integration-hub/<stage>/<name>`), so two stages never share a secret.
 */
function stageSecret(
  naming: HubNaming,
  owner: string,
  choice: { import: string } | undefined,
  catalogSecret: { readonly name: string; readonly import?: boolean } | undefined,
): { name: string; import: boolean } {
  if (choice) return { name: choice.import, import: true };
  if (catalogSecret?.import) return { name: catalogSecret.name, import: true };
  return { name: naming.secretName(owner), import: false };
}
