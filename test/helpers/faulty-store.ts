/** Wraps a store so a test can make appends to one stream fail, as a crash between two steps would. */
import { UnavailableError, type AppendOptions, type AppendResult, type EventStore, type NewEvent } from 'spive';

/** `crash`: a plain error (the process dies); `unavailable`: a hardware fault before the write; `reply-lost`: the write happens, the answer is lost. */
export type FaultKind = 'crash' | 'unavailable' | 'reply-lost';

export class FaultyStore {
  private failAfter = new Map<string, number>();
  private kind: FaultKind = 'crash';
  private times = Number.POSITIVE_INFINITY;
  faultsInjected = 0;
  readonly store: EventStore;

  constructor(inner: EventStore) {
    const self = this;
    this.store = new Proxy(inner, {
      get(target, property, receiver) {
        if (property === 'append') {
          return (stream: string, key: string, events: readonly NewEvent<unknown>[], options?: AppendOptions): Promise<AppendResult> => {
            const left = self.failAfter.get(stream);
            if (left !== undefined) {
              if (left <= 0 && self.times > 0) {
                self.times--;
                self.faultsInjected++;
                if (self.kind === 'crash') return Promise.reject(new Error(`injected: the machine died before appending to ${stream}`));
                if (self.kind === 'unavailable') return Promise.reject(new UnavailableError(`append to ${stream}`, 'injected: no answer'));
                return target.append(stream, key, events, options).then(() => {
                  throw new UnavailableError(`append to ${stream}`, 'injected: the reply was lost');
                });
              }
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

  /** The next `n` appends to `stream` succeed, then `times` appends fail with `kind` (default: every later one crashes). */
  failAppendsAfter(stream: string, n: number, kind: FaultKind = 'crash', times = Number.POSITIVE_INFINITY): void {
    this.failAfter.set(stream, n);
    this.kind = kind;
    this.times = times;
  }

  heal(): void {
    this.failAfter.clear();
  }
}
