/**
 * Buffers a consumer of column scans lends the store (`ScanColumnsOptions.buffers`) and keeps from one
 * scan to the next. A fresh buffer for a scan costs more than reading a file into it (page faults,
 * zeroing, and the garbage collection of a 26 MiB buffer per scan: ~100 ms of a 10M-event scan,
 * measured on the replay benchmark), and the store can pool buffers itself only up to the last batch
 * it hands out: a batch stays valid for as long as its consumer keeps it. Only the consumer knows when
 * it is done with every batch of a scan.
 *
 * The rule for the consumer: one scan at a time per set, and the next scan with a set starts only
 * after the consumer is done with every batch of the one before (for a shared set: after its worker
 * threads are).
 */
import { InvalidInputError } from '../model/errors.ts';

/** One buffer and how many files have been read into it (a batch's lazy columns check it is still theirs). */
export interface ScanBuffer {
  readonly bytes: Uint8Array;
  uses: number;
}

/**
 * Buffers a shared scan takes in turn: a batch stays valid until three more have been read, so the
 * consumer can hand its worker threads the next two while they fold it. With two in hand (three
 * buffers), a worker that finished its share of a batch early waited for the slowest one to finish
 * the batch before (~9% of two workers' time on the replay benchmark): each batch's share of work
 * varies by worker, and a deeper queue lets the differences even out.
 */
export const SHARED_SCAN_SLOTS = 4;

/** Buffers any other scan takes in turn: the batch handed out, and the next one being read. */
export const SCAN_SLOTS = 2;

export class ScanBuffers {
  /**
   * The buffers in turn, filled by a store as it needs them: SHARED_SCAN_SLOTS for a shared scan
   * (SharedArrayBuffers), SCAN_SLOTS for any other (see ScanColumnsOptions.shared).
   */
  readonly slots: Array<ScanBuffer | undefined>;

  /** `shared`: for scans whose batches go to worker threads (ScanColumnsOptions.shared). */
  constructor(readonly shared: boolean) {
    this.slots = new Array<ScanBuffer | undefined>(shared ? SHARED_SCAN_SLOTS : SCAN_SLOTS).fill(undefined);
  }

  /** Lets the buffers go (their memory is freed once no batch refers to them). */
  clear(): void {
    this.slots.fill(undefined);
  }
}

/** Whether a scan with these options is shared; lent buffers decide, and a `shared` that disagrees is an error. */
export function scanIsShared(options: { readonly shared?: boolean; readonly buffers?: ScanBuffers } | undefined): boolean {
  const lent = options?.buffers;
  if (lent !== undefined && options?.shared !== undefined && options.shared !== lent.shared) {
    throw new InvalidInputError('shared', `${lent.shared} or nothing, as its lent buffers are ${lent.shared ? '' : 'not '}shared`, options.shared);
  }
  return lent?.shared ?? options?.shared === true;
}
