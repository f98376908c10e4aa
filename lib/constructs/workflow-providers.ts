import { RemovalPolicy } from 'aws-cdk-lib';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { ResolvedProvider } from '../workflow-catalog.js';
import { assertNoProblems } from '../props-validation.js';
import { createOrImportCredentialsSecret } from './integration-pipeline.js';
import { secretAccessOf, type ServiceFunction } from './service-function.js';

/** Props of {@link WorkflowProviders}. */
export interface WorkflowProvidersProps {
  /** Every provider a workflow calls, resolved (`resolveWorkflows(...).providers`). */
  readonly providers: ReadonlyMap<string, ResolvedProvider>;
  /**
   * The credentials secrets of the integrations, by integration name (`IntegrationPipeline.secret`): a provider
   * that is an integration's (`integration: 'payments'`) uses that secret rather than a second copy.
   */
  readonly integrationSecrets: ReadonlyMap<string, ISecret | undefined>;
  /** What happens to the created secrets when they leave the stack. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/** How {@link WorkflowProviders.bind} names the variables of a provider. */
export interface ProviderBindingOptions {
  /**
   * Prefix of the provider variables, for a task that calls more than one provider: `'CRM_'` sets `CRM_BASE_URL`,
   * `CRM_SECRET_NAME`, `CRM_CIRCUIT_SETTINGS`, `CRM_HTTP_TIMEOUT_MS`, `CRM_HTTP_MAX_ATTEMPTS`.
   * @default '' (a task calling one provider)
   */
  readonly prefix?: string;
}

/**
 * The credentials of every workflow provider: a secret per standalone provider (created with a generated
 * placeholder, or imported by name, exactly like an integration's), and the integration's own secret for a
 * provider that is an integration's. {@link bind} gives one task function one provider: its base URL, its secret
 * (read access to that secret only), its circuit settings and HTTP tuning.
 */
export class WorkflowProviders extends Construct {
  /** The resolved providers, by name. */
  readonly providers: ReadonlyMap<string, ResolvedProvider>;
  /** The secret of each provider that has one (auth scheme other than `none`), by provider name. */
  readonly secrets: ReadonlyMap<string, ISecret>;

  constructor(scope: Construct, id: string, props: WorkflowProvidersProps) {
    super(scope, id);
    const problems: string[] = [];
    const secrets = new Map<string, ISecret>();
    for (const provider of props.providers.values()) {
      if (provider.integration !== undefined) {
        if (!props.integrationSecrets.has(provider.integration)) {
          problems.push(`provider '${provider.name}': integration '${provider.integration}' is not deployed by this stack`);
          continue;
        }
        const shared = props.integrationSecrets.get(provider.integration);
        if (shared) secrets.set(provider.name, shared);
        else if (provider.auth.scheme !== 'none') problems.push(`provider '${provider.name}': integration '${provider.integration}' has no secret`);
        continue;
      }
      const secret = createOrImportCredentialsSecret(this, `${pascal(provider.name)}Secret`, {
        owner: `provider ${provider.name}`,
        auth: provider.auth.scheme,
        secret: provider.secret,
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      });
      if (secret) secrets.set(provider.name, secret);
    }
    assertNoProblems(this.node.path, problems);
    this.providers = props.providers;
    this.secrets = secrets;
  }

  /** The provider named `name`; throws when the catalog has none. */
  provider(name: string): ResolvedProvider {
    const provider = this.providers.get(name);
    if (!provider) throw new Error(`WorkflowProviders: no provider named '${name}' (known: ${[...this.providers.keys()].join(', ')})`);
    return provider;
  }

  /**
   * Configures `fn` to call provider `name`: `<prefix>BASE_URL`, `<prefix>AUTH`, `<prefix>SECRET_NAME` with read access to that
   * secret only, `<prefix>CIRCUIT_SETTINGS` (the provider's, so every caller of the shared circuit agrees), and
   * `<prefix>HTTP_TIMEOUT_MS` / `<prefix>HTTP_MAX_ATTEMPTS` when the catalog sets them.
   */
  bind(fn: ServiceFunction, name: string, options: ProviderBindingOptions = {}): ResolvedProvider {
    const provider = this.provider(name);
    const prefix = options.prefix ?? '';
    fn.addEnvironment(`${prefix}BASE_URL`, provider.baseUrl);
    fn.addEnvironment(`${prefix}AUTH`, JSON.stringify(provider.auth));
    fn.addEnvironment(`${prefix}CIRCUIT_SETTINGS`, JSON.stringify(provider.circuit));
    const secret = this.secrets.get(name);
    if (secret) fn.bindSecret(secret, `${prefix}SECRET_NAME`, secretAccessOf(provider.auth.scheme));
    if (provider.httpTimeoutMs !== undefined) fn.addEnvironment(`${prefix}HTTP_TIMEOUT_MS`, String(provider.httpTimeoutMs));
    if (provider.maxAttempts !== undefined) fn.addEnvironment(`${prefix}HTTP_MAX_ATTEMPTS`, String(provider.maxAttempts));
    return provider;
  }
}

function pascal(name: string): string {
  return name
    .split('-')
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}
