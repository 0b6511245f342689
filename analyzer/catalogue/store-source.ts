/** An event store as a catalogue's history source: its sealed Parquet files, and the rest through the store. */
import type { EventStore } from '../../src/store/event-store.ts';
import type { HistorySource } from './catalogue.ts';

export function storeHistory(store: EventStore): HistorySource {
  return {
    location: store.location,
    sealedFiles: () => store.sealedHistory?.() ?? [],
    async streamTotals() {
      const stats = await store.stats();
      return new Map(stats.streams.map((s) => [s.stream, { events: s.events, lastPosition: s.lastPosition }]));
    },
    readStream: (stream, fromPosition) => store.readStream(stream, { fromPosition, batchSize: 8192 }),
  };
}
