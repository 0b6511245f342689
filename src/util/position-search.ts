/** Binary search over events sorted by global position (a stream's or the store's order). */
import type { StoredEvent } from '../model/event.ts';

/** The index of the first event whose position is at or after `position` (`events.length` if none). */
export function firstAtOrAfter(events: readonly StoredEvent[], position: number): number {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((events[mid] as StoredEvent).position < position) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
