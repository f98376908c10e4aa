/**
 * The one rule for a provider's base URL, applied by the catalogs at synth and by the functions at init: HTTPS, so
 * credentials and payloads never cross a network in clear text. Plain HTTP is accepted on the loopback interface
 * only, where the local hub serves its sandbox APIs (docs/local-hub.md).
 */

const LOOPBACK_HOSTS = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

/** The problem with `value` as a base URL, or undefined when it is an https URL (or http on loopback). */
export function baseUrlProblem(value: unknown, what = 'baseUrl'): string | undefined {
  let url: URL | undefined;
  try {
    url = typeof value === 'string' && !/\s/.test(value) ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || !url.hostname) {
    return `${what} must be an https URL (got ${JSON.stringify(value)})`;
  }
  if (url.protocol === 'http:' && !LOOPBACK_HOSTS.test(url.hostname)) {
    return `${what} must use https: plain http is allowed on the loopback interface only, for the local hub (got ${JSON.stringify(value)})`;
  }
  return undefined;
}
