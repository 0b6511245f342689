/** Reading events back: the columns every read selects, and keyset pagination over them. */
import type { StoredEvent } from '../../model/event.ts';

/** The column list every event read selects, in the order `copy-rows.ts` parses. */
export const EVENT_COLUMNS = 'position, stream, key, seq, time, type, data, meta';

/**
 * A read as a series of pages: `page(after)` streams up to `pageSize` events from the cursor
 * `after`; `cursorOf` gives the cursor after an event. Ends at the first short page. Each page is
 * its own statement and snapshot, so a long read holds no snapshot (which would keep old row
 * versions from being vacuumed) for longer than one page takes, and sees commits made meanwhile.
 */
export async function* keysetPages(
  first: number,
  pageSize: number,
  page: (after: number) => AsyncIterable<StoredEvent[]>,
  cursorOf: (e: StoredEvent) => number,
): AsyncIterable<StoredEvent[]> {
  let after = first;
  for (;;) {
    let rows = 0;
    let last: StoredEvent | undefined;
    for await (const batch of page(after)) {
      rows += batch.length;
      last = batch[batch.length - 1];
      yield batch;
    }
    if (rows < pageSize || last === undefined) return;
    after = cursorOf(last);
  }
}
