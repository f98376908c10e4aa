import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from './ports.js';

/** The real clock: wall time, timers and Math.random. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => delay(Math.max(0, ms), undefined, signal ? { signal } : undefined),
  random: () => Math.random(),
};
