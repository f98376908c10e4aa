/**
 * Checkpoints of incremental syncs (docs/architecture.md "Shared state": checkpoints table, key `syncId`): where the next page starts.
 * A checkpoint only moves forward past a page whose writes succeeded, with a conditional write on `version`, so a
 * failed or concurrent run can never skip a record: it resumes from the last checkpoint.
 *
 * The same item carries the RUN LEASE (docs/workflows.md "Triggers, the run lease and skipped runs"): at most one
 * run works on a checkpoint at a time. The first page of a run takes the lease (`runId`, `runningUntil`); a run that
 * finds it held by another live run asks the holder for one more pass (`rerunRequested`) and ends at once; the
 * holder consumes that request when its pass ends, or releases the lease. Every step is one conditional write on the
 * one item (no transactions), so the order of "request" and "release" is decided by DynamoDB, never by timing.
 */
import { TransientError } from '../runtime/errors.js';

/** Where an incremental sync stands. */
export interface SyncCheckpoint {
  /** Watermark: changes at or after this source `updated_at` are still to be read; '' = from the beginning. */
  since: string;
  /** The source's opaque cursor into the changes since `since`; null at the start of a pass. */
  cursor: string | null;
  /**
   * The newest `updated_at` seen by the pass under way (pages read with a cursor); it becomes `since` when the pass
   * ends, so the next pass starts after everything this one read. Absent between passes.
   */
  highWater?: string;
  /** Incremented by every advance; the condition of the next one. 0 = never written. */
  version: number;
  /** The run working on this checkpoint, when one holds the lease (it may have run out: compare `runningUntil`). */
  lease?: RunLease;
}

/** Which run works on a checkpoint, until when. */
export interface RunLease {
  /** The holder: its execution name. */
  runId: string;
  /**
   * Epoch milliseconds after which the lease is void: the holder's execution has timed out by then, so a run that
   * crashed or timed out cannot keep every later run out.
   */
  runningUntil: number;
  /** A run that found the lease held asked the holder for one more pass. */
  rerunRequested: boolean;
}

/** How a run's end went ({@link CheckpointStore.finishRun}). */
export type RunEnd =
  /** The lease is free again. */
  | 'released'
  /** Another run asked for a pass while this one held the lease: the request is consumed, the lease kept. */
  | 'rerun'
  /** This run did not hold the lease (it ran out and another run took it): nothing was written. */
  | 'not-held';

/** Where the checkpoint moves after a page. */
export interface CheckpointPosition {
  since: string;
  cursor: string | null;
  highWater?: string;
}

/** Facts about the advance, kept on the item for operators. */
export interface CheckpointAudit {
  /** The execution that wrote it. */
  executionName: string;
  upserted: number;
  deleted: number;
}

/** Reads and advances checkpoints. */
export interface CheckpointStore {
  /** The checkpoint of `syncId`, or the start (`since: ''`, `cursor: null`, version 0) if there is none. */
  load(syncId: string): Promise<SyncCheckpoint>;
  /**
   * Moves the checkpoint from `from` to `to`, only if it is still at `from.version`. Resolves with the new
   * checkpoint; rejects with {@link CheckpointConflictError} when another run moved it first.
   */
  advance(syncId: string, from: SyncCheckpoint, to: CheckpointPosition, audit: CheckpointAudit): Promise<SyncCheckpoint>;
  /**
   * Takes the run lease for `runId` until `runningUntil`, only if no run holds it or its holder's lease ran out at
   * `now`; drops any rerun request (the new holder's pass reads everything changed so far). Leaves the position and
   * `version` alone. Resolves false when another live run holds it.
   */
  acquireLease(syncId: string, runId: string, runningUntil: number, now: number): Promise<boolean>;
  /**
   * Asks the live holder of the lease (a run other than `runId`) for one more pass. Resolves false when no other run
   * holds a live lease at `now` (it was released or ran out meanwhile).
   */
  requestRerun(syncId: string, runId: string, now: number): Promise<boolean>;
  /**
   * The holder's pass ended: releases the lease, unless a rerun was requested, in which case the request is
   * consumed and the lease kept (`'rerun'`: the holder does one more pass).
   */
  finishRun(syncId: string, runId: string): Promise<RunEnd>;
  /**
   * Releases the lease whatever was requested (the run reached its page bound, or failed: what is left is the next
   * run's). Resolves false when `runId` did not hold it.
   */
  releaseLease(syncId: string, runId: string): Promise<boolean>;
}

/** How a run's first page found the lease ({@link claimRun}). */
export type RunClaim =
  | { readonly kind: 'leader' }
  /** Another live run holds the lease; `requested` is false when a pass had been requested already (no write). */
  | { readonly kind: 'skipped'; readonly holder: string; readonly requested: boolean };

/** Rounds of "look, then write" a claim makes before it gives up on a checkpoint that keeps changing hands. */
const CLAIM_ROUNDS = 4;

/**
 * The first page of a run: takes the lease, or, when another live run holds it, makes sure that run does one more
 * pass and reports `skipped`. Starts from `current` (a consistent read). Each write is conditional, and a lost race
 * (the holder released, or another run took the lease first) just looks again. When the holder already has a pass
 * requested, nothing is written: its coming pass starts after this read, so it reads whatever this run was started
 * for — a burst of N triggers costs one write, not N. Rejects with {@link CheckpointConflictError} (transient: the
 * state machine retries the page) if the lease changed hands on every round.
 */
export async function claimRun(
  store: CheckpointStore,
  syncId: string,
  runId: string,
  lease: { readonly now: number; readonly leaseMs: number },
  current: SyncCheckpoint,
): Promise<RunClaim> {
  let checkpoint = current;
  for (let round = 0; round < CLAIM_ROUNDS; round += 1) {
    const held = checkpoint.lease;
    // A retry of this run's first page: the lease is already ours (not extended: it stays tied to the first take).
    if (held?.runId === runId) return { kind: 'leader' };
    if (held !== undefined && held.runningUntil > lease.now) {
      if (held.rerunRequested) return { kind: 'skipped', holder: held.runId, requested: false };
      if (await store.requestRerun(syncId, runId, lease.now)) return { kind: 'skipped', holder: held.runId, requested: true };
    } else if (await store.acquireLease(syncId, runId, lease.now + lease.leaseMs, lease.now)) {
      return { kind: 'leader' };
    }
    checkpoint = await store.load(syncId);
  }
  throw new CheckpointConflictError(`The run lease of ${syncId} changed hands ${CLAIM_ROUNDS} times while run ${runId} tried to claim it`);
}

/**
 * Another run moved the checkpoint while this one worked on the same page (overlapping executions). Transient: a
 * retry reloads the checkpoint and goes on from wherever the other run got to.
 */
export class CheckpointConflictError extends TransientError {
  readonly errorClass = 'CheckpointConflict';
}

/** The start of a sync that has no checkpoint yet. */
export const INITIAL_CHECKPOINT: Readonly<SyncCheckpoint> = Object.freeze({ since: '', cursor: null, version: 0 });

/** A checkpoint store in memory (unit tests, local runs); the same conditions as the DynamoDB adapter. */
export class InMemoryCheckpointStore implements CheckpointStore {
  readonly #items = new Map<string, SyncCheckpoint>();

  async load(syncId: string): Promise<SyncCheckpoint> {
    const item = this.#items.get(syncId) ?? INITIAL_CHECKPOINT;
    return { ...item, ...(item.lease ? { lease: { ...item.lease } } : {}) };
  }

  async advance(syncId: string, from: SyncCheckpoint, to: CheckpointPosition): Promise<SyncCheckpoint> {
    const current = this.#items.get(syncId) ?? INITIAL_CHECKPOINT;
    if (current.version !== from.version) {
      throw new CheckpointConflictError(`Checkpoint ${syncId} moved to version ${current.version} while this run held version ${from.version}`);
    }
    const next: SyncCheckpoint = { since: to.since, cursor: to.cursor, ...(to.highWater ? { highWater: to.highWater } : {}), version: from.version + 1 };
    this.#items.set(syncId, { ...next, ...(current.lease ? { lease: current.lease } : {}) });
    return { ...next };
  }

  async acquireLease(syncId: string, runId: string, runningUntil: number, now: number): Promise<boolean> {
    const current = this.#items.get(syncId) ?? INITIAL_CHECKPOINT;
    if (current.lease && current.lease.runningUntil > now) return false;
    this.#items.set(syncId, { ...current, lease: { runId, runningUntil, rerunRequested: false } });
    return true;
  }

  async requestRerun(syncId: string, runId: string, now: number): Promise<boolean> {
    const current = this.#items.get(syncId);
    if (!current?.lease || current.lease.runId === runId || current.lease.runningUntil <= now) return false;
    this.#items.set(syncId, { ...current, lease: { ...current.lease, rerunRequested: true } });
    return true;
  }

  async finishRun(syncId: string, runId: string): Promise<RunEnd> {
    const current = this.#items.get(syncId);
    if (current?.lease?.runId !== runId) return 'not-held';
    if (current.lease.rerunRequested) {
      this.#items.set(syncId, { ...current, lease: { ...current.lease, rerunRequested: false } });
      return 'rerun';
    }
    this.#items.set(syncId, withoutLease(current));
    return 'released';
  }

  async releaseLease(syncId: string, runId: string): Promise<boolean> {
    const current = this.#items.get(syncId);
    if (current?.lease?.runId !== runId) return false;
    this.#items.set(syncId, withoutLease(current));
    return true;
  }
}

function withoutLease(checkpoint: SyncCheckpoint): SyncCheckpoint {
  const { lease: _lease, ...rest } = checkpoint;
  return rest;
}
