/**
 * The stack output that names every circuit of the circuits table — one per integration and one per standalone
 * workflow provider — with the breaker settings its callers agree on (lib/integration-hub-stack.ts writes it). The
 * operator reads it, on AWS from DescribeStacks and locally from the synthesized template, so `circuit status` shows
 * the circuits the deployed functions actually use rather than the ones this checkout's catalog names.
 */
import { circuitOverrides } from '../../functions/runtime/runtime-environment.js';
import type { OpsCatalogEntries } from '../../functions/ops/ops-catalog.js';
import { circuitBreakerSettingsProblems, type CircuitBreakerSettingsInput } from '../../functions/runtime/circuit-settings.js';

/** The output's key. */
export const CIRCUIT_SETTINGS_OUTPUT = 'CircuitSettings';

/**
 * Circuit id → settings overrides from the circuits' SSM parameters (functions/ops/ops-catalog.ts), where a stage
 * keeps them: an output of every circuit would grow with the catalog past CloudFormation's output size. Throws an
 * Error naming the parameter path when an entry has no name or invalid settings.
 */
export function circuitSettingsOfOpsCatalog(entries: OpsCatalogEntries, path: string): Map<string, CircuitBreakerSettingsInput> {
  const circuits = new Map<string, CircuitBreakerSettingsInput>();
  for (const entry of [...entries.integrations, ...entries.providers]) {
    const { name, circuit } = (typeof entry === 'object' && entry !== null ? entry : {}) as { name?: unknown; circuit?: unknown };
    if (typeof name !== 'string' || name === '') throw new Error(`A circuit parameter under ${path} has no name: ${JSON.stringify(entry)}`);
    const settings = circuitOverrides(JSON.stringify(circuit ?? {}), `${path}…/${name} circuit`);
    const problems = circuitBreakerSettingsProblems(settings);
    if (problems.length > 0) throw new Error(`The ${name} circuit under ${path} has invalid settings: ${problems.join('; ')}`);
    circuits.set(name, settings);
  }
  return circuits;
}

/** Circuit id → settings overrides. Throws an Error naming the output when it is not a JSON object of objects. */
export function parseCircuitSettingsOutput(raw: string): Map<string, CircuitBreakerSettingsInput> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new Error(`Output ${CIRCUIT_SETTINGS_OUTPUT} is not JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new Error(`Output ${CIRCUIT_SETTINGS_OUTPUT} must be a JSON object of circuit id → settings`);
  }
  const circuits = new Map<string, CircuitBreakerSettingsInput>();
  for (const [circuitId, settings] of Object.entries(parsed)) {
    circuits.set(circuitId, circuitOverrides(JSON.stringify(settings), `${CIRCUIT_SETTINGS_OUTPUT}.${circuitId}`));
  }
  return circuits;
}
