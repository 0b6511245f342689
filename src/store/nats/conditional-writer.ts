/**
 * Every write to the events stream goes through here: one conditional publish carrying
 * `Nats-Expected-Last-Sequence` (the whole stream's last sequence, as this writer knows it) and
 * `Nats-Expected-Last-Subject-Sequence` (the shard's or lease table's last message).
 *
 * Why the whole stream: global positions must be contiguous across streams, so a message's first
 * position is computed from the message before it; the stream-wide expectation makes the server
 * refuse the publish if anyone wrote in between. The same expectation makes fencing atomic: a lease
 * table is a message in the same stream, so a takeover that lands after this writer checked a token
 * makes the append fail, and the retry sees the new table and answers FENCED.
 *
 * Pipelining: writes queued while a group is in flight form the next group. The group is decided
 * against a speculative view (each write assumes the ones before it in the group land), and all its
 * publishes go out at once with chained expectations (`lastSequence` = base, base+1, ...). If one
 * fails because another process wrote, every later one fails too; they are decided again on fresh
 * state. So one process pays one round trip per group, not per write; processes writing the same
 * store at once serialize on the server and retry (see docs/nats-store.md).
 *
 * Refusals (CONFLICT, FENCED, LEASE_HELD, ...) are only answered on fresh state with no speculative
 * write before them; otherwise the write is decided again at the head of the next group on freshly
 * read state — cached state may predate another process's writes.
 *
 * The caches (tail, subject heads) describe the stream as of `tail.streamSeq` exactly; any failed
 * expectation or doubt (timeout, duplicate) drops them all.
 */
import type { JetStreamClient, JetStreamManager, PubAck, StoredMsg } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/transport-node';
import { UnavailableError } from '../../model/errors.ts';
import { assert } from '../../util/assert.ts';
import { readPlacement, type Placement } from './event-message.ts';
import { isTransportFault, isWrongLastSequence, unavailable } from './nats-errors.ts';
import type { NatsLayout } from './nats-layout.ts';

export interface Tail {
  /** The events stream's last sequence (0 when empty). */
  readonly streamSeq: number;
  readonly lastPosition: number;
}

/** The newest message on one subject (a shard, or a lease table). */
export interface SubjectHead {
  /** Stream sequence of the newest message on the subject (0: none). */
  readonly subjectSeq: number;
  readonly placement: Placement | undefined;
  readonly body: Uint8Array | undefined;
}

/** What to publish, decided against a view; `decide` may throw (CONFLICT, FENCED). */
export interface Write<T> {
  readonly subject: string;
  readonly body: Uint8Array;
  readonly headers: MsgHdrs;
  /** Events in the message (0 for a lease table). */
  readonly count: number;
  /** The result, given the placement the message got. */
  result(placement: Placement): T;
}

/** What `decide` returns when there is nothing to write (releasing a lease nobody holds). */
export interface NoWrite<T> {
  readonly nothing: true;
  readonly value: T;
}

export interface View {
  readonly tail: Tail;
  head(subject: string): Promise<SubjectHead>;
}

export type Decide<T> = (view: View) => Promise<Write<T> | NoWrite<T>>;

/** Publish attempts that fail in transport before the writer gives up with UNAVAILABLE (the msg id makes repeats safe). */
const TRANSPORT_ATTEMPTS = 3;
/** A group stops growing at this many writes or bytes (bounds what is in flight). */
const GROUP_WRITES_MAX = 256;
const GROUP_BYTES_MAX = 8 * 1024 * 1024;

interface Sent<T> {
  readonly write: Write<T>;
  readonly expectSeq: number;
  readonly expectSubjectSeq: number;
  /** The tail's last position before this write. */
  readonly lastPosition: number;
}

interface Op<T> {
  readonly what: string;
  /** Subjects whose heads `decide` reads: fetched in parallel before the group is decided. */
  readonly subjects: readonly string[];
  readonly decide: Decide<T>;
  readonly msgID: string;
  readonly sizeBytes: number;
  resolve(value: T): void;
  reject(error: unknown): void;
  faults: number;
  /** After a lost reply: the very message to send again, so that a landed original is seen as a duplicate. */
  resend: Sent<T> | undefined;
  /** A refusal or no-op was decided on speculative or cached state: decide again on fresh state, first. */
  needsFresh: boolean;
}

const EMPTY_HEAD: SubjectHead = Object.freeze({ subjectSeq: 0, placement: undefined, body: undefined });

export class ConditionalWriter {
  private tail: Tail | undefined;
  private readonly heads = new Map<string, SubjectHead>();
  private queue: Op<unknown>[] = [];
  private running = false;
  private pumping: Promise<void> = Promise.resolve();
  private idCounter = 0;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly layout: NatsLayout,
    /** Unique per writer instance: message ids are `<writerId>.<n>`. */
    private readonly writerId: string,
  ) {}

  /** Decides and publishes one write, conditionally; resolves once it landed (or was refused). */
  write<T>(what: string, subjects: readonly string[], sizeBytes: number, decide: Decide<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const op: Op<T> = { what, subjects, decide, msgID: `${this.writerId}.${++this.idCounter}`, sizeBytes, resolve, reject, faults: 0, resend: undefined, needsFresh: false };
      this.queue.push(op as Op<unknown>);
      if (!this.running) this.pumping = this.pump();
    });
  }

  /** Resolves once every write queued so far has landed or failed. */
  async idle(): Promise<void> {
    while (this.running) await this.pumping;
  }

  /** Forgets everything cached (another process may have written). */
  invalidate(): void {
    this.tail = undefined;
    this.heads.clear();
  }

  private async pump(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const group = this.takeGroup();
        try {
          await this.runGroup(group);
        } catch (e) {
          // Reading the tail or a head failed: nothing was published, every write of the group fails.
          this.invalidate();
          for (const op of group) op.reject(unavailable(op.what, e));
        }
      }
    } finally {
      this.running = false;
    }
  }

  private takeGroup(): Op<unknown>[] {
    const first = this.queue[0] as Op<unknown>;
    // A resend goes alone: its expectations are fixed. A write needing fresh state goes first.
    if (first.resend !== undefined || first.needsFresh) return this.queue.splice(0, 1);
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length && n < GROUP_WRITES_MAX && bytes < GROUP_BYTES_MAX) {
      const op = this.queue[n] as Op<unknown>;
      if (op.resend !== undefined || op.needsFresh) break;
      bytes += op.sizeBytes;
      n++;
    }
    return this.queue.splice(0, n);
  }

  private async runGroup(group: Op<unknown>[]): Promise<void> {
    const retry: Op<unknown>[] = [];
    const sends: Array<{ op: Op<unknown>; sent: Sent<unknown> }> = [];
    const only = group[0] as Op<unknown>;
    if (only.resend !== undefined) {
      sends.push({ op: only, sent: only.resend });
    } else {
      if (only.needsFresh) this.invalidate();
      const fresh = this.tail === undefined;
      const base = await this.loadTail(only.what);
      /** Heads read newer than the tail (another process wrote): used for deciding, never cached. */
      const newer = new Map<string, SubjectHead>();
      const wanted = new Set<string>();
      for (const op of group) for (const s of op.subjects) if (!this.heads.has(s)) wanted.add(s);
      await Promise.all([...wanted].map((s) => this.loadHead(only.what, s, base, newer)));
      let seq = base.streamSeq;
      let position = base.lastPosition;
      const overlay = new Map<string, SubjectHead>();
      const headOf = async (subject: string): Promise<SubjectHead> =>
        overlay.get(subject) ?? this.heads.get(subject) ?? newer.get(subject) ?? (await this.loadHead(only.what, subject, base, newer));
      for (const op of group) {
        // Final only when decided on freshly read state with nothing speculative before it.
        const final = fresh && sends.length === 0;
        let write: Write<unknown> | NoWrite<unknown>;
        try {
          write = await op.decide({ tail: { streamSeq: seq, lastPosition: position }, head: headOf });
        } catch (e) {
          if (final) op.reject(e);
          else retry.push(Object.assign(op, { needsFresh: true }));
          continue;
        }
        if ('nothing' in write) {
          if (final) op.resolve(write.value);
          else retry.push(Object.assign(op, { needsFresh: true }));
          continue;
        }
        op.needsFresh = false;
        const before = await headOf(write.subject);
        sends.push({ op, sent: { write, expectSeq: seq, expectSubjectSeq: before.subjectSeq, lastPosition: position } });
        seq++;
        position += write.count;
        overlay.set(write.subject, { subjectSeq: seq, placement: readPlacement(write.subject, seq, write.headers), body: write.body });
      }
    }
    // All at once: the client writes them to the connection in this order and the server applies them in it.
    const acks = await Promise.allSettled(sends.map(({ op, sent }) => this.publish(op, sent)));
    for (let i = 0; i < sends.length; i++) {
      const { op, sent } = sends[i] as { op: Op<unknown>; sent: Sent<unknown> };
      const outcome = acks[i] as PromiseSettledResult<PubAck>;
      if (outcome.status === 'fulfilled') {
        const ack = outcome.value;
        if (ack.duplicate) {
          // An earlier attempt of this very write landed (its reply was lost): report where it went.
          this.invalidate();
          await this.resolveDuplicate(op, sent.write, ack.seq);
          continue;
        }
        assert(ack.seq === sent.expectSeq + 1, `conditional publish landed at ${ack.seq} right after ${sent.expectSeq}`);
        const placement = readPlacement(sent.write.subject, ack.seq, sent.write.headers);
        if (this.tail !== undefined && this.tail.streamSeq === sent.expectSeq) {
          this.tail = { streamSeq: ack.seq, lastPosition: sent.lastPosition + sent.write.count };
          this.heads.set(sent.write.subject, { subjectSeq: ack.seq, placement, body: sent.write.body });
        }
        op.resend = undefined;
        op.resolve(sent.write.result(placement));
        continue;
      }
      const e = outcome.reason;
      this.invalidate();
      if (isWrongLastSequence(e)) {
        // Someone wrote first (or, after a lost reply, our original did not land): decide again.
        op.resend = undefined;
        retry.push(op);
      } else if (isTransportFault(e) && ++op.faults < TRANSPORT_ATTEMPTS) {
        op.resend = sent;
        retry.push(op);
      } else op.reject(unavailable(op.what, e));
    }
    this.queue.unshift(...retry);
  }

  private publish(op: Op<unknown>, sent: Sent<unknown>): Promise<PubAck> {
    return this.js.publish(sent.write.subject, sent.write.body, {
      headers: sent.write.headers,
      msgID: op.msgID,
      expect: { lastSequence: sent.expectSeq, lastSubjectSequence: sent.expectSubjectSeq },
    });
  }

  private async resolveDuplicate(op: Op<unknown>, write: Write<unknown>, seq: number): Promise<void> {
    try {
      const stored = await this.getMessage({ seq });
      if (stored === null) throw new UnavailableError(op.what, `message ${seq} acknowledged as a duplicate is gone`);
      op.resend = undefined;
      op.resolve(write.result(readPlacement(stored.subject, stored.seq, stored.header)));
    } catch (e) {
      op.reject(unavailable(op.what, e));
    }
  }

  private async loadTail(what: string): Promise<Tail> {
    if (this.tail !== undefined) return this.tail;
    this.heads.clear();
    let tail: Tail;
    const last = await this.getMessage({ last_by_subj: this.layout.everything }).catch((e: unknown) => {
      throw unavailable(what, e);
    });
    if (last === null) tail = { streamSeq: 0, lastPosition: 0 };
    else {
      const p = readPlacement(last.subject, last.seq, last.header);
      tail = { streamSeq: last.seq, lastPosition: p.firstPosition + p.count - 1 };
    }
    this.tail = tail;
    return tail;
  }

  /** Reads a subject's head; caches it when it is not newer than `base` (else keeps it in `newer`). */
  private async loadHead(what: string, subject: string, base: Tail, newer: Map<string, SubjectHead>): Promise<SubjectHead> {
    const last = await this.getMessage({ last_by_subj: subject }).catch((e: unknown) => {
      throw unavailable(what, e);
    });
    const head = last === null ? EMPTY_HEAD : { subjectSeq: last.seq, placement: readPlacement(last.subject, last.seq, last.header), body: last.data };
    if (head.subjectSeq > base.streamSeq) newer.set(subject, head);
    else if (this.tail === base) this.heads.set(subject, head);
    return head;
  }

  private getMessage(query: { seq: number } | { last_by_subj: string }): Promise<StoredMsg | null> {
    return this.jsm.streams.getMessage(this.layout.eventsStream, query);
  }
}
