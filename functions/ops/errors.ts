/**
 * Failures of the ops functions' own dependencies, in the runtime's one error hierarchy (docs/architecture.md "Conventions"). The SDK
 * adapters translate SDK errors into these; the logic only uses `instanceof`.
 */
import { DependencyError, PermanentError } from '../runtime/errors.js';
import type { ProbeRunReport } from './circuit-probing.js';

/** Lambda is still applying an earlier change to the mapping (ResourceInUseException): try again in a few seconds. */
export class EventSourceMappingBusyError extends DependencyError {
  override readonly errorClass = 'EventSourceMappingBusy';

  constructor(readonly uuid: string, options?: { cause?: unknown }) {
    super('EventSourceMapping', `Event source mapping ${uuid} is being changed; try again shortly`, options);
  }
}

/** The mapping does not exist (deleted, or a wrong UUID in the configuration): retrying cannot help. */
export class EventSourceMappingNotFoundError extends PermanentError {
  readonly errorClass = 'EventSourceMappingNotFound';

  constructor(readonly uuid: string, options?: { cause?: unknown }) {
    super(`Event source mapping ${uuid} does not exist`, options);
  }
}

/** A prober run could not check some integration (the schedule stays on, so the next run tries again). */
export class ProbeRunIncompleteError extends Error {
  constructor(readonly report: ProbeRunReport) {
    const failed = report.integrations.filter((i) => i.error !== undefined).map((i) => `${i.integration}: ${i.error}`);
    super(`The circuit prober could not check ${failed.length} integration(s): ${failed.join('; ')}`);
    this.name = 'ProbeRunIncompleteError';
  }
}
