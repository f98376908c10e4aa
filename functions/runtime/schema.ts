/**
 * The schemas of the adapter contract: any zod 4 schema, built with `zod/mini` (what the shipped adapters and tasks
 * use) or with classic `zod`. The runtime checks values through zod's core `safeParse`, never through a schema's
 * methods, so both kinds work.
 *
 * Why `zod/mini` for the shipped code: classic zod's schemas carry every chainable method, so the bundler cannot drop
 * any of them — about 90 KB of each function's bundle against about 25 KB for the same schemas in `zod/mini`
 * (bench/coldstart.ts measures each bundle against its floor; docs/adapter-guide.md shows both styles).
 */
import { config, safeParse } from 'zod/mini';
import english from 'zod/v4/locales/en.js';
import type * as zc from 'zod/v4/core';

// zod/mini loads no locale: without this every check without a custom message reports only "Invalid input", and
// those messages reach the DLQ's reasons and the logs (inbound-record.ts describeIssues). English only (~3 KB);
// importing zod's locale index instead would bundle all of them.
config(english());

/** A zod 4 schema whose parsed output is `T`. */
export type Schema<T = unknown> = zc.$ZodType<T>;

/** What a failed check reports. */
export type SchemaError = zc.$ZodError;

/** The outcome of {@link checkSchema}: the parsed value, or the error. */
export type SchemaCheck<T> = { success: true; data: T; error?: undefined } | { success: false; data?: undefined; error: SchemaError };

/** Checks `value` against `schema` (any zod 4 schema) and never throws for an invalid value. */
export function checkSchema<T>(schema: Schema<T>, value: unknown): SchemaCheck<T> {
  const result = safeParse(schema, value);
  return result.success ? { success: true, data: result.data as T } : { success: false, error: result.error };
}
