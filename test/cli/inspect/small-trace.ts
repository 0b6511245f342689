/**
 * A small hand-written trace with one of everything the inspector draws: an input and the output it
 * caused (with an effect), a runner that starts in catch-up and goes live, a crash and a violation.
 * Written through sim/trace.ts, exactly as `spive simulate --trace` writes it.
 */
import { Trace, type TraceRow } from '../../../sim/trace.ts';

export const SMALL_TRACE_ROWS: readonly TraceRow[] = [
  { step: 1, simulatedMs: 0, kind: 'append', actor: 'ingress', stream: 'transfers', key: 'acct-1', position: 1, detail: '1 Deposited' },
  { step: 2, simulatedMs: 100, kind: 'runner.started', actor: 'ledger-b#1', stream: '', key: '', position: 0, detail: 'ledger@sim started from input #0' },
  { step: 3, simulatedMs: 250, kind: 'append', actor: 'token 1', stream: 'ledger', key: 'acct-1', position: 2, detail: '1 Credited', cause: 1 },
  { step: 4, simulatedMs: 400, kind: 'effect.performed', actor: 'ledger-b#1', stream: '', key: 'acct-1', position: 0, detail: 'did notifications {"account":"acct-1"}', cause: 1 },
  { step: 5, simulatedMs: 500, kind: 'fault.crash', actor: 'faults', stream: '', key: '', position: 0, detail: 'ledger-b#1, down 300 ms' },
  { step: 6, simulatedMs: 600, kind: 'runner.live', actor: 'ledger-b#2', stream: '', key: '', position: 0, detail: 'ledger: caught up at input #1; live' },
  { step: 7, simulatedMs: 750, kind: 'violation', actor: 'balance never negative', stream: '', key: '', position: 0, detail: 'acct-2 is at -5' },
  { step: 8, simulatedMs: 1000, kind: 'append', actor: 'ingress', stream: 'transfers', key: 'acct-2', position: 3, detail: '1 Withdrawn' },
];

export async function writeSmallTrace(path: string, rows: readonly TraceRow[] = SMALL_TRACE_ROWS): Promise<void> {
  const trace = new Trace(true);
  for (const row of rows) trace.add(row);
  await trace.writeParquet(path);
}

/** Screen text without colour codes. */
export function plain(frame: string | undefined): string {
  // eslint-disable-next-line no-control-regex
  return (frame ?? '').replace(/\x1b\[[0-9;]*m/g, '');
}
