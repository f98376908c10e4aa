/**
 * Points the synthesized hub at the sandbox: the stack synthesized with every provider's base URL at the sandbox
 * (`baseUrl:<provider>` context, as `cdk deploy -c` would), and the provider secrets, under the names the template
 * gives them, holding the sandbox's credentials. Used by the local hub and the workflow tests.
 */
import type { WorkflowsCatalog } from '../../lib/workflow-catalog.js';
import { createLocalSecretsManager, type LocalSecretsManager } from '../local-secrets-manager.js';
import { type CfnTemplate, synthesizeHubTemplate } from '../local-step-functions.js';
import type { ProviderName, Sandbox } from '../sandbox/index.js';

/** Every provider the hub calls (integrations and workflows). */
export const HUB_PROVIDERS = ['inventory', 'payments', 'shipping', 'email', 'contacts', 'crm'] as const satisfies readonly ProviderName[];

/** Synthesizes the hub with every provider at the sandbox. */
export function synthesizeAgainstSandbox(sandbox: Sandbox, workflows?: WorkflowsCatalog): CfnTemplate {
  const context = Object.fromEntries(HUB_PROVIDERS.map((provider) => [`baseUrl:${provider}`, sandbox.providerUrl(provider)]));
  return synthesizeHubTemplate({ context, workflows });
}

/** The provider secrets with the sandbox's credentials, by the secret names of the template. */
export function sandboxSecrets(sandbox: Sandbox): LocalSecretsManager {
  return createLocalSecretsManager({
    'integration-hub/inventory': { apiKey: sandbox.credentials('inventory').apiKey },
    'integration-hub/payments': { token: sandbox.credentials('payments').secretKey },
    'integration-hub/shipping': { ...sandbox.credentials('shipping') },
    'integration-hub/email': { token: sandbox.credentials('email').token },
    'integration-hub/contacts': { token: sandbox.credentials('contacts').token },
    'integration-hub/crm': { ...sandbox.credentials('crm') },
  });
}
