/** Wraps a store so a test can make appends to one stream fail, as a crash between two steps would. */
import type { AppendOptions, AppendResult, EventStore, NewEvent } from 'spive';

export class FaultyStore {
  private failAfter = new Map<string, number>();
  readonly store: EventStore;

  constructor(inner: EventStore) {
    const self = this;
    this.store = new Proxy(inner, {
      get(target, property, receiver) {
        if (property === 'append') {
          return (stream: string, key: string, events: readonly NewEvent<unknown>[], options?: AppendOptions): Promise<AppendResult> => {
            const left = self.failAfter.get(stream);
            if (left !== undefined) {
              if (left <= 0) return Promise.reject(new Error(`injected: the machine died before appending to ${stream}`));
              self.failAfter.set(stream, left - 1);
            }
            return target.append(stream, key, events, options);
          };
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  /** The next `n` appends to `stream` succeed, every later one fails. */
  failAppendsAfter(stream: string, n: number): void {
    this.failAfter.set(stream, n);
  }

  heal(): void {
    this.failAfter.clear();
  }
}
