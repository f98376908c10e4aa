/**
 * Seeded randomness for the sandbox. Every random decision (faults, jitter, credentials, tokens) comes from a
 * stream derived from the sandbox seed and a label, so the same seed and the same request sequence always give
 * the same behaviour, and one stream's consumption never shifts another's.
 */

/** mulberry32: a tiny, fast 32-bit PRNG; returns a generator of uniform numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes a seed with a label (FNV-1a over `seed:label`) into an independent 32-bit seed. */
export function deriveSeed(seed: number, label: string): number {
  let hash = 0x811c9dc5;
  for (const char of `${seed}:${label}`) {
    hash ^= char.codePointAt(0) ?? 0;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

const ALPHANUMERIC = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** A resettable seeded random stream with the few helpers the sandbox needs. */
export class SeededRandom {
  private next: () => number;

  /** Creates the stream for `label` under `seed`. */
  constructor(
    private readonly seed: number,
    private readonly label: string,
  ) {
    this.next = mulberry32(deriveSeed(seed, label));
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next();
  }

  /** Uniform integer in [0, maxExclusive). */
  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }

  /** A random alphanumeric string of `length` characters (credentials, tokens). */
  token(length: number): string {
    let out = '';
    for (let i = 0; i < length; i++) out += ALPHANUMERIC[this.int(ALPHANUMERIC.length)];
    return out;
  }

  /** Rewinds the stream to its first value. */
  restart(): void {
    this.next = mulberry32(deriveSeed(this.seed, this.label));
  }
}
