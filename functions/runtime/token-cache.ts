/**
 * An instance's OAuth2 access token and the one request that replaces it (both OAuth2 schemes: credentials.ts,
 * refresh-token-credentials.ts): concurrent callers share one request, a caller that needs a fresh token does not join
 * a request that may return the refused one, and a request that finishes after a newer one never overwrites it.
 */
import type { Clock } from './ports.js';

/** A token and when it must be replaced (epoch ms). */
export interface ExpiringToken {
  readonly refreshAt: number;
}

/** The cached token plus the single in-flight request. */
export class TokenCache<T extends ExpiringToken> {
  private cached?: T;
  private inFlight?: { readonly promise: Promise<T>; readonly fresh: boolean };
  /** Bumped per request, so an older request that finishes late cannot overwrite a newer token. */
  private generation = 0;

  constructor(private readonly clock: Clock) {}

  /** The cached token while it is good, else undefined. */
  private usable(): T | undefined {
    return this.cached && this.clock.now() < this.cached.refreshAt ? this.cached : undefined;
  }

  /** The last token obtained, good or not (the one a 401 refused). */
  get last(): T | undefined {
    return this.cached;
  }

  /**
   * The cached token unless `fresh`; else joins the request under way (unless a fresh one is needed and that one is
   * not), or starts `request`. `refused` (with `fresh`) tells the token the provider refused: a cached token that is
   * not that one was already obtained by another caller in its place, and is returned without a new request.
   */
  get(fresh: boolean, request: () => Promise<T>, refused?: (token: T) => boolean): Promise<T> {
    const current = this.usable();
    const usable = !fresh || (refused !== undefined && current !== undefined && !refused(current)) ? current : undefined;
    if (usable) return Promise.resolve(usable);
    const joinable = this.inFlight && (this.inFlight.fresh || !fresh) ? this.inFlight : undefined;
    return (joinable ?? this.start(fresh, request)).promise;
  }

  private start(fresh: boolean, request: () => Promise<T>): { promise: Promise<T>; fresh: boolean } {
    const generation = ++this.generation;
    const promise = request().then((token) => {
      if (generation === this.generation) this.cached = token;
      return token;
    });
    const entry = { promise, fresh };
    this.inFlight = entry;
    const clear = () => {
      if (this.inFlight === entry) this.inFlight = undefined;
    };
    promise.then(clear, clear);
    return entry;
  }
}
