/**
 * A synthetic trace of `rows` rows with the shape of a real one (sim/trace.ts columns): mostly
 * scheduler steps and appends over three streams, a runner log line now and then, a fault every
 * ~100k rows, a few violations. Written by DuckDB straight from `range(rows)`, in time order, so the
 * inspector can be measured on 10M rows without a 10M-step simulation.
 */
import { Duck, sqlString } from '../../../analyzer/duckdb.ts';

/** Simulated ms between consecutive rows. */
export const SYNTHETIC_ROW_MS = 0.01;

export async function writeSyntheticTrace(path: string, rows: number, rowGroupRows = 122_880): Promise<void> {
  const duck = await Duck.open(':memory:');
  try {
    // Rows i%10 in 0..5: steps; 6..9: appends (6,7 ingress into transfers; 8,9 outputs with a cause).
    await duck.run(`COPY (
      SELECT i::BIGINT AS step, (i * ${SYNTHETIC_ROW_MS})::DOUBLE AS simulated_ms,
        CASE WHEN i % 1000003 = 500000 THEN 'violation' WHEN i % 99991 = 7 THEN 'fault.crash' WHEN i % 50021 = 3 THEN 'runner.fault'
             WHEN i % 10 < 6 THEN 'step' ELSE 'append' END AS kind,
        CASE WHEN i % 1000003 = 500000 THEN 'final state equals the fault-free run' WHEN i % 99991 = 7 THEN 'faults' WHEN i % 50021 = 3 THEN 'ledger-b#1'
             WHEN i % 10 < 6 THEN (['net.request ledger-b append', 'net.reply ledger-b', 'timer balances-b', 'workload.arrive', 'net.request ingress append', 'net.reply balances-b'])[i % 10 + 1]
             WHEN i % 10 < 8 THEN 'ingress' ELSE 'token 1' END AS actor,
        CASE WHEN i % 10 < 6 OR i % 1000003 = 500000 OR i % 99991 = 7 OR i % 50021 = 3 THEN '' WHEN i % 10 < 8 THEN 'transfers' WHEN i % 10 = 8 THEN 'ledger' ELSE 'balances' END AS stream,
        CASE WHEN i % 10 < 6 THEN '' ELSE 'acct-' || (i // 10 % 1000) END AS key,
        CASE WHEN i % 10 < 6 THEN 0 ELSE i END::BIGINT AS position,
        CASE WHEN i % 10 < 6 THEN '' WHEN i % 10 < 8 THEN '1 TransferRequested' WHEN i % 10 = 8 THEN '1 Debited' ELSE '1 BalanceChanged' END AS detail,
        CASE WHEN i % 10 >= 8 THEN i - 2 ELSE 0 END::BIGINT AS cause
      FROM range(${rows}) t(i)
    ) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${rowGroupRows})`);
  } finally {
    duck.close();
  }
}
