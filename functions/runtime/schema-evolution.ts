/**
 * Schema evolution of an adapter's event ("tolerant readers, versioned events"). A producer may go on sending an
 * older `schemaVersion` after the adapter moved on: the adapter's upcasters bring every accepted older payload, one
 * version at a time, to the version its `input` validates. Declared in integration-definition.ts, checked when the
 * adapter is defined (define-integration.ts) and applied to every record by operation-executor.ts.
 */
import { PoisonMessageError } from './errors.js';
import { EVENT_VERSION_FIELD, eventVersionOf } from './inbound-record.js';
import type { IntegrationDefinition, Upcaster } from './integration-definition.js';

/** The part of an adapter's declaration that says which event versions it reads. */
export type VersionDeclaration = Pick<IntegrationDefinition<unknown>, 'schemaVersion' | 'supportedVersions' | 'upcasters'>;

/** The version of an adapter that declares none, and of a payload without `schemaVersion`. */
export const DEFAULT_SCHEMA_VERSION = '1';

// Whole numbers only: an upcaster's target ("the next version") is then defined without being declared.
const VERSION = /^[1-9][0-9]{0,8}$/;

/** Every problem of a version declaration, one line each; empty when it is coherent. */
export function schemaEvolutionProblems(declaration: VersionDeclaration): string[] {
  const problems: string[] = [];
  const declared = declaration.schemaVersion;
  const current = declared ?? DEFAULT_SCHEMA_VERSION;
  const currentIsValid = typeof current === 'string' && VERSION.test(current);
  if (!currentIsValid) problems.push(`schemaVersion must be a whole number in a string, like '2' (got ${JSON.stringify(declared)})`);
  const currentNote = declared === undefined ? ` (schemaVersion is not declared, so the current version is '${current}')` : '';

  const upcasters: object = declaration.upcasters ?? {};
  const upcasterEntries = isRecord(upcasters) ? Object.entries(upcasters) : [];
  if (!isRecord(upcasters)) problems.push('upcasters must be an object mapping an older schemaVersion to a function');

  const starts: number[] = [];
  for (const [from, upcaster] of upcasterEntries) {
    if (typeof upcaster !== 'function') problems.push(`upcasters['${from}'] must be a function (got ${typeof upcaster})`);
    if (!VERSION.test(from)) {
      problems.push(`upcasters['${from}']: a schemaVersion must be a whole number in a string, like '1'`);
    } else if (currentIsValid && Number(from) === Number(current)) {
      problems.push(`upcasters['${from}'] upcasts the current schemaVersion '${current}': the chain would never end (a cycle)${currentNote}`);
    } else if (currentIsValid && Number(from) > Number(current)) {
      problems.push(`upcasters['${from}'] starts above the current schemaVersion '${current}' and can never reach it${currentNote}`);
    } else if (currentIsValid) {
      starts.push(Number(from));
    }
  }
  problems.push(...gapProblems(starts, Number(current)));

  const supported: unknown = declaration.supportedVersions;
  if (supported !== undefined) {
    if (!Array.isArray(supported) || !supported.every((version) => typeof version === 'string')) {
      problems.push('supportedVersions must be an array of schemaVersion strings');
    } else if (supported.length === 0) {
      problems.push('supportedVersions is empty: every message would be poison');
    } else {
      // Adapters from before upcasters may list versions without declaring schemaVersion; only a declared evolution must end in it.
      if ((declared !== undefined || upcasterEntries.length > 0) && !supported.includes(current)) {
        problems.push(`supportedVersions must include the current schemaVersion '${current}', which input validates`);
      }
      for (const version of supported) {
        if (upcasterEntries.some(([from]) => from === version)) {
          problems.push(`schemaVersion '${version}' is both read as is (supportedVersions) and upcast (upcasters): keep one`);
        }
      }
    }
  }
  return problems;
}

/** Throws a TypeError listing every problem of the declaration; `subject` names what declared it. */
export function assertSchemaEvolution(declaration: VersionDeclaration, subject: string): void {
  const problems = schemaEvolutionProblems(declaration);
  if (problems.length > 0) throw new TypeError(`Invalid schema evolution of ${subject}:\n- ${problems.join('\n- ')}`);
}

/** How an integration reads event versions: resolved once from its adapter's declaration. */
export class SchemaEvolution {
  /** The version `input` validates and upcasting ends at. */
  readonly current: string;
  /** Every version a message may carry, read as is or upcast, in version order. */
  readonly accepted: readonly string[];
  readonly #integration: string;
  readonly #readAsIs: ReadonlySet<string>;
  /** One step per older version; the declaration check guarantees each chain ends at `current`. */
  readonly #steps: ReadonlyMap<string, { to: string; upcast: Upcaster }>;

  /** Throws a TypeError listing every problem of the declaration. */
  constructor(declaration: VersionDeclaration, integration: string) {
    assertSchemaEvolution(declaration, `integration ${JSON.stringify(integration)}`);
    this.#integration = integration;
    this.current = declaration.schemaVersion ?? DEFAULT_SCHEMA_VERSION;
    this.#readAsIs = new Set(declaration.supportedVersions ?? [this.current]);
    this.#steps = new Map(
      Object.entries(declaration.upcasters ?? {}).map(([from, upcast]) => [from, { to: String(Number(from) + 1), upcast }]),
    );
    this.accepted = [...new Set([...this.#readAsIs, ...this.#steps.keys()])].sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
  }

  /**
   * The payload at the current version (the very object when it arrived at a version read as is), or the poison
   * error of a version nobody accepts, an upcaster that throws or one that does not return the next version.
   */
  toCurrent(payload: unknown): { payload: unknown } | PoisonMessageError {
    const name = this.#integration;
    const version = eventVersionOf(payload);
    if (this.#readAsIs.has(version)) return { payload };
    let step = this.#steps.get(version);
    if (step === undefined) {
      return new PoisonMessageError(
        'UnsupportedEventVersion',
        `Event schemaVersion ${JSON.stringify(version)} is not supported by ${name} (accepted: ${this.accepted.join(', ')})`,
      );
    }
    // Not an object, so not an event of any version: `input` rejects it with the shape it expected.
    if (!isRecord(payload)) return { payload };

    let from = version;
    let upcast: Record<string, unknown> = payload;
    for (; step !== undefined; step = this.#steps.get(from)) {
      let next: unknown;
      try {
        next = step.upcast(upcast);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        return new PoisonMessageError('UpcastFailed', `Upcasting the ${name} event from schemaVersion '${from}' to '${step.to}' failed: ${reason}`, { cause: error });
      }
      // Checked, not stamped: the next upcaster and `input` rely on the shape, and a v1 upcast must hash like a v2 original.
      if (!isRecord(next) || String(next[EVENT_VERSION_FIELD]) !== step.to) {
        const got = !isRecord(next) ? 'no object' : next[EVENT_VERSION_FIELD] === undefined ? 'no schemaVersion' : JSON.stringify(next[EVENT_VERSION_FIELD]);
        return new PoisonMessageError('UpcastFailed', `The ${name} upcaster from schemaVersion '${from}' must return a payload with schemaVersion '${step.to}' (got ${got})`);
      }
      upcast = next;
      from = step.to;
    }
    return { payload: upcast };
  }
}

/** One problem per run of missing versions between the oldest upcaster and the current version. */
function gapProblems(starts: readonly number[], current: number): string[] {
  const have = new Set(starts);
  const sorted = [...have].sort((a, b) => a - b);
  const oldest = sorted[0];
  if (oldest === undefined) return [];
  const problems: string[] = [];
  for (const [index, start] of sorted.entries()) {
    const missingFrom = start + 1;
    if (missingFrom >= current || have.has(missingFrom)) continue;
    const missingTo = (sorted[index + 1] ?? current) - 1;
    const missing = missingFrom === missingTo ? `upcasters['${missingFrom}']` : `upcasters['${missingFrom}'] to upcasters['${missingTo}']`;
    problems.push(`missing ${missing}: the chain from schemaVersion '${oldest}' stops at '${missingFrom}' and never reaches the current schemaVersion '${current}'`);
  }
  return problems;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
