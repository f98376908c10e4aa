/**
 * Checkpoints of incremental syncs (docs/architecture.md "Shared state": checkpoints table, key `syncId`): where the next page starts.
 * A checkpoint only moves forward past a page whose writes succeeded, with a conditional write on `version`, so a
 * failed or concurrent run can never skip a record: it resumes from the last checkpoint.
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
}

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

/** A checkpoint store in memory (unit tests, local runs). */
export class InMemoryCheckpointStore implements CheckpointStore {
  readonly #items = new Map<string, SyncCheckpoint>();

  async load(syncId: string): Promise<SyncCheckpoint> {
    return { ...(this.#items.get(syncId) ?? INITIAL_CHECKPOINT) };
  }

  async advance(syncId: string, from: SyncCheckpoint, to: CheckpointPosition): Promise<SyncCheckpoint> {
    const current = this.#items.get(syncId) ?? INITIAL_CHECKPOINT;
    if (current.version !== from.version) {
      throw new CheckpointConflictError(`Checkpoint ${syncId} moved to version ${current.version} while this run held version ${from.version}`);
    }
    const next: SyncCheckpoint = { since: to.since, cursor: to.cursor, ...(to.highWater ? { highWater: to.highWater } : {}), version: from.version + 1 };
    this.#items.set(syncId, next);
    return { ...next };
  }
}
