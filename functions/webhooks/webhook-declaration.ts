/**
 * What a catalog entry declares about a provider's inbound webhooks (lib/catalog.ts `webhooks`), and the scheme it
 * names. Pure code: the catalog validates a declaration at synth and the endpoint's function at init with the same
 * rules, as auth declarations are (functions/runtime/auth-config.ts). The stack passes it to the function as
 * `WEBHOOK_SCHEME` (JSON); webhook-handler.ts makes the scheme from it.
 */
import { DEFAULT_TOLERANCE_SECONDS } from './webhook-scheme.js';

/** How a provider signs its webhooks. */
export type WebhookSchemeDeclaration =
  /** Standard Webhooks: `webhook-id` / `webhook-timestamp` / `webhook-signature`, `whsec_` secrets. */
  | { readonly scheme: 'standard-webhooks'; readonly toleranceSeconds?: number }
  /** One header `t=…,v1=…` over `timestamp.body` (HMAC-SHA256); id and type from the body's `id` and `type`. */
  | { readonly scheme: 'timestamped-hmac'; readonly header: string; readonly toleranceSeconds?: number };

/** The `source` of the bus events an integration's webhooks become. */
export function webhookEventSource(integration: string): string {
  return `integration-hub.webhooks.${integration}`;
}

/** The scheme names, in documentation order. */
export const WEBHOOK_SCHEMES = ['standard-webhooks', 'timestamped-hmac'] as const;

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FIELDS: Readonly<Record<(typeof WEBHOOK_SCHEMES)[number], readonly string[]>> = {
  'standard-webhooks': ['scheme', 'toleranceSeconds'],
  'timestamped-hmac': ['scheme', 'header', 'toleranceSeconds'],
};

/** Every problem of a declaration, one line each (empty when it is valid). */
export function webhookSchemeProblems(declaration: unknown): string[] {
  if (declaration === null || typeof declaration !== 'object') return ['must be an object with a scheme'];
  const { scheme, header, toleranceSeconds } = declaration as Record<string, unknown>;
  if (!WEBHOOK_SCHEMES.includes(scheme as never)) return [`scheme must be one of ${WEBHOOK_SCHEMES.join(', ')} (got ${JSON.stringify(scheme)})`];
  const problems = Object.keys(declaration)
    .filter((key) => !FIELDS[scheme as keyof typeof FIELDS].includes(key))
    .map((key) => `${String(scheme)} takes no '${key}'`);
  const maxTolerance = scheme === 'standard-webhooks' ? DEFAULT_TOLERANCE_SECONDS : 3_600;
  if (toleranceSeconds !== undefined && !(Number.isInteger(toleranceSeconds) && (toleranceSeconds as number) >= 1 && (toleranceSeconds as number) <= maxTolerance)) {
    problems.push(`toleranceSeconds must be an integer in 1-${maxTolerance}`);
  }
  if (scheme === 'timestamped-hmac' && !(typeof header === 'string' && HEADER_NAME.test(header))) problems.push('timestamped-hmac needs header: the signature header name');
  return problems;
}
