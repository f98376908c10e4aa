/**
 * The one naming rule of the hub. Integration, adapter, provider, workflow and task names become circuit ids,
 * ledger keys, metric dimensions, queue and alarm names, URL prefixes and file names, so they share one rule:
 * lower-kebab-case (`crm`, `payments-eu`, `order-saga`). The catalogs (lib/), the runtime and the ops functions
 * all check names with this module, so a name accepted at synth is accepted at run time.
 */

/** Lower-kebab-case: a lower-case letter, then lower-case letters and digits, in parts joined by single dashes. */
export const LOWER_KEBAB_CASE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** True when `name` is a string in lower-kebab-case. */
export function isLowerKebabCase(name: unknown): name is string {
  return typeof name === 'string' && LOWER_KEBAB_CASE.test(name);
}

/** The problem with `name` as a `what` (e.g. 'name', 'adapter'), or undefined when it follows the rule. */
export function nameProblem(name: unknown, what = 'name'): string | undefined {
  if (isLowerKebabCase(name)) return undefined;
  return `${what} must be lower-kebab-case like 'crm' or 'payments-eu' (got ${JSON.stringify(name)})`;
}

/**
 * The module of adapter `adapter`, relative to the repository root: an adapter is named by its file, so the catalog
 * (lib/catalog.ts) and the adapter loader (functions/ops/integration-adapters.ts) find it by the same rule.
 */
export function adapterModulePath(adapter: string): string {
  return `functions/integrations/${adapter}.ts`;
}
