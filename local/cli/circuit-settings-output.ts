/**
 * The stack output that names every circuit of the circuits table — one per integration and one per standalone
 * workflow provider — with the breaker settings its callers agree on (lib/integration-hub-stack.ts writes it). The
 * operator reads it, on AWS from DescribeStacks and locally from the synthesized template, so `circuit status` shows
 * the circuits the deployed functions actually use rather than the ones this checkout's catalog names.
 */
import { circuitOverrides } from '../../functions/runtime/runtime-environment.js';
import type { CircuitBreakerSettingsInput } from '../../functions/runtime/circuit-settings.js';

/** The output's key. */
export const CIRCUIT_SETTINGS_OUTPUT = 'CircuitSettings';

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
