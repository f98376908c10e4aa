/**
 * Finds adapters by name. An adapter is the file functions/integrations/<adapter>.ts: the folder is the registry, so
 * adding an adapter edits no list. The import below is a template literal on purpose: esbuild bundles every file of
 * the folder that matches it (the prober's bundle carries all adapters), and tsx or vitest import the file itself
 * (`@vite-ignore` keeps vitest from freezing the folder's files at transform time, so a test may add an adapter).
 */
import { type Integration, isIntegrationAdapter } from '../runtime/define-integration.js';
import { ConfigurationError } from '../runtime/errors.js';
import { adapterModulePath, nameProblem } from '../runtime/names.js';

/**
 * Any adapter, whatever its input type. `any` because the lookup holds adapters of different input types, and its
 * users (the prober, the local hub) only use what does not depend on it: connection, probe, runtime construction.
 */
export type AnyIntegration = Integration<any>;

/**
 * Imports adapter `adapter` and returns the adapter it defines. Throws a ConfigurationError naming the adapter when
 * the name breaks the naming rule, the file does not exist, or it does not export exactly one defined adapter and
 * its `handler`.
 */
export async function loadAdapter(adapter: string): Promise<AnyIntegration> {
  const badName = nameProblem(adapter, 'adapter');
  if (badName) throw new ConfigurationError(badName, [badName]);
  let module: Record<string, unknown>;
  try {
    module = (await import(/* @vite-ignore */ `../integrations/${adapter}.ts`)) as Record<string, unknown>;
  } catch (error) {
    const problem = `adapter '${adapter}' cannot be loaded from ${adapterModulePath(adapter)}: ${(error as Error).message}`;
    throw new ConfigurationError(problem, [problem]);
  }
  const defined = Object.values(module).filter(isIntegrationAdapter);
  const problems: string[] = [];
  if (defined.length !== 1) problems.push(`${adapterModulePath(adapter)} must export exactly one defineIntegration(...) result (found ${defined.length})`);
  else if (module.handler !== defined[0]!.sqsHandler) problems.push(`${adapterModulePath(adapter)} must export its sqsHandler as \`handler\` (the Lambda entry)`);
  if (problems.length > 0) throw new ConfigurationError(problems.join('; '), problems);
  return defined[0]!;
}

/** Loads each named adapter once; every failure is reported at once. */
export async function loadAdapters(adapters: Iterable<string>): Promise<ReadonlyMap<string, AnyIntegration>> {
  const names = [...new Set(adapters)];
  const settled = await Promise.allSettled(names.map((name) => loadAdapter(name)));
  const problems = settled.flatMap((outcome) => (outcome.status === 'rejected' ? [(outcome.reason as Error).message] : []));
  if (problems.length > 0) throw ConfigurationError.listing('adapters', problems);
  return new Map(names.map((name, index) => [name, (settled[index] as PromiseFulfilledResult<AnyIntegration>).value]));
}
