/**
 * The PostgreSQL store's schema, as numbered migrations. A migration is never edited once released:
 * a change is a new migration, so every store, old or new, ends at the same schema (STYLE: version
 * everything a replay depends on). `migrate.ts` applies the missing ones, each once, in order.
 *
 * Conventions follow message-db, Emmett and Marten: a global position (bigint), a per-shard sequence
 * with UNIQUE (stream, key, seq), event time, type, payload and metadata as jsonb.
 */
import { SHARD_BUCKETS } from '../../model/shard.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  /** The SQL, for the store's schema `s` (a quoted identifier). Runs inside one transaction. */
  sql(s: string, schema: string): string;
}

/** The NOTIFY channel appends signal on: one per schema, so stores in one database do not wake each other. */
export function commitChannel(schema: string): string {
  return `spive.${schema}`;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'events, shards, log head, leases, snapshots',
    sql: (s) => `
      -- One row per event. position is the global order (contiguous: see the append function);
      -- seq the order within the shard (stream, key).
      CREATE TABLE ${s}.events (
        position    bigint      PRIMARY KEY,
        stream      text        NOT NULL,
        key         text        NOT NULL,
        seq         bigint      NOT NULL,
        time        bigint      NOT NULL,
        type        text        NOT NULL,
        data        jsonb       NOT NULL,
        meta        jsonb,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT events_shard_seq UNIQUE (stream, key, seq)
      );
      -- Reading a shard uses events_shard_seq; a stream in global order and a stream by time:
      CREATE INDEX events_stream_position ON ${s}.events (stream, position);
      CREATE INDEX events_stream_time ON ${s}.events (stream, time);

      -- Shard heads: what appendIf compares against, locked per shard by appends (FOR UPDATE), and
      -- the per-shard figures stats() sums (so stats never scans the events).
      CREATE TABLE ${s}.shards (
        stream        text   NOT NULL,
        key           text   NOT NULL,
        last_seq      bigint NOT NULL,
        last_time     bigint,
        min_time      bigint,
        max_time      bigint,
        last_position bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (stream, key)
      );

      -- The single-row head of the global log. Appends take their positions from it inside their
      -- transaction, so they commit in position order (see docs/postgres-store.md, "Gaps").
      CREATE TABLE ${s}.log_head (
        id            boolean PRIMARY KEY DEFAULT true CHECK (id),
        last_position bigint  NOT NULL
      );
      INSERT INTO ${s}.log_head (id, last_position) VALUES (true, 0);

      -- Fencing tokens grow per stream, forever (also after leases are released).
      CREATE TABLE ${s}.lease_tokens (
        stream     text   PRIMARY KEY,
        last_token bigint NOT NULL
      );
      CREATE TABLE ${s}.leases (
        stream     text             NOT NULL,
        token      bigint           NOT NULL,
        owner      text             NOT NULL,
        range_from integer          NOT NULL,
        range_to   integer          NOT NULL,
        -- ms since the epoch on the store's clock (passed in by the client, never now()).
        expires_at double precision NOT NULL,
        PRIMARY KEY (stream, token),
        CHECK (0 <= range_from AND range_from < range_to AND range_to <= ${SHARD_BUCKETS})
      );

      CREATE TABLE ${s}.snapshots (
        process  text   NOT NULL,
        version  text   NOT NULL,
        shard    text   NOT NULL,
        position bigint NOT NULL,
        time     bigint NOT NULL,
        data     bytea  NOT NULL,
        PRIMARY KEY (process, version, shard, position)
      );
    `,
  },
  {
    version: 2,
    name: 'bucket_of, lease_lock and the append function (fencing and appendIf inside the database)',
    sql: (s, schema) => `
      -- FNV-1a over UTF-16 code units modulo ${SHARD_BUCKETS}: the same function as bucketOf in
      -- src/model/shard.ts, so the database decides which lease governs a key without trusting the client.
      CREATE FUNCTION ${s}.bucket_of(p_key text) RETURNS integer
      LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
      DECLARE
        h bigint := 2166136261;
        c integer;
      BEGIN
        FOR i IN 1..length(p_key) LOOP
          c := ascii(substr(p_key, i, 1));
          IF c > 65535 THEN
            -- Outside the BMP JavaScript sees two code units: a surrogate pair.
            h := ((h # (55296 + ((c - 65536) >> 10))) * 16777619) & 4294967295;
            h := ((h # (56320 + ((c - 65536) & 1023))) * 16777619) & 4294967295;
          ELSE
            h := ((h # c) * 16777619) & 4294967295;
          END IF;
        END LOOP;
        RETURN (h % ${SHARD_BUCKETS})::integer;
      END
      $fn$;

      -- The advisory lock key of a stream's leases: appends hold it shared, lease changes exclusive,
      -- so a lease cannot change between an append's token check and its commit.
      CREATE FUNCTION ${s}.lease_lock(p_stream text) RETURNS bigint
      LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
        SELECT hashtextextended('spive.lease:' || ${literal(schema)} || ':' || p_stream, 0)
      $fn$;

      -- Appends a batch to one shard, all or nothing. p_events is a JSON array of
      -- [type, time, data] or [type, time, data, meta]. Raises SPV02 (FENCED) when p_token is not the
      -- token of the lease governing the key's bucket, SPV01 (CONFLICT) when an expectation fails.
      CREATE FUNCTION ${s}.append(
        p_stream text, p_key text, p_events jsonb,
        p_expect_seq bigint, p_check_time boolean, p_expect_time bigint, p_token bigint
      ) RETURNS TABLE (first_seq bigint, first_position bigint)
      LANGUAGE plpgsql AS $fn$
      #variable_conflict use_column
      DECLARE
        v_count integer := jsonb_array_length(p_events);
        v_bucket integer := ${s}.bucket_of(p_key);
        v_lease_token bigint;
        v_lease_owner text;
        v_last_token bigint;
        v_last_seq bigint;
        v_last_time bigint;
        v_min_time bigint;
        v_max_time bigint;
        v_end_time bigint;
        v_first_position bigint;
      BEGIN
        IF v_count = 0 THEN
          RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'events: expected a non-empty array';
        END IF;

        -- Fencing first: a stale writer must learn it is fenced, not that its expectation was off.
        PERFORM pg_advisory_xact_lock_shared(${s}.lease_lock(p_stream));
        SELECT l.token, l.owner INTO v_lease_token, v_lease_owner
          FROM ${s}.leases l
          WHERE l.stream = p_stream AND l.range_from <= v_bucket AND l.range_to > v_bucket
          ORDER BY l.token DESC LIMIT 1;
        IF v_lease_token IS NOT NULL THEN
          IF p_token IS DISTINCT FROM v_lease_token THEN
            RAISE EXCEPTION USING ERRCODE = 'SPV02',
              MESSAGE = format('stream %s: shard %s is leased to %s (token %s); the append carried token %s',
                               p_stream, p_key, v_lease_owner, v_lease_token, coalesce(p_token::text, '(none)')),
              DETAIL = json_build_object('reason', 'leased', 'current', v_lease_token, 'owner', v_lease_owner)::text;
          END IF;
        ELSIF p_token IS NOT NULL THEN
          SELECT t.last_token INTO v_last_token FROM ${s}.lease_tokens t WHERE t.stream = p_stream;
          RAISE EXCEPTION USING ERRCODE = 'SPV02',
            MESSAGE = format('stream %s: fencing token %s is not a live lease of shard %s', p_stream, p_token, p_key),
            DETAIL = json_build_object('reason', CASE WHEN p_token <= coalesce(v_last_token, 0) THEN 'released' ELSE 'never-issued' END)::text;
        END IF;

        -- The shard's head, locked: concurrent appends to one shard queue here, one at a time.
        INSERT INTO ${s}.shards AS sh (stream, key, last_seq) VALUES (p_stream, p_key, 0) ON CONFLICT DO NOTHING;
        SELECT sh.last_seq, sh.last_time INTO v_last_seq, v_last_time
          FROM ${s}.shards sh WHERE sh.stream = p_stream AND sh.key = p_key FOR UPDATE;
        IF (p_expect_seq IS NOT NULL AND p_expect_seq <> v_last_seq)
           OR (p_check_time AND p_expect_time IS DISTINCT FROM v_last_time) THEN
          RAISE EXCEPTION USING ERRCODE = 'SPV01',
            MESSAGE = format('append to %s/%s: the shard is at lastSeq=%s', p_stream, p_key, v_last_seq),
            DETAIL = json_build_object('lastSeq', v_last_seq, 'lastTime', v_last_time)::text;
        END IF;

        SELECT min((e ->> 1)::bigint), max((e ->> 1)::bigint) INTO v_min_time, v_max_time
          FROM jsonb_array_elements(p_events) e;
        v_end_time := (p_events -> -1 ->> 1)::bigint;

        -- Positions last, so the log head stays locked only from here to commit: appends commit in
        -- position order, and a reader never sees position p+1 before p (no skipped events), while
        -- a rolled-back append gives its positions back (no gaps).
        UPDATE ${s}.log_head SET last_position = last_position + v_count
          RETURNING last_position - v_count + 1 INTO v_first_position;
        INSERT INTO ${s}.events (position, stream, key, seq, time, type, data, meta)
          SELECT v_first_position + e.i - 1, p_stream, p_key, v_last_seq + e.i,
                 (e.v ->> 1)::bigint, e.v ->> 0, e.v -> 2, e.v -> 3
          FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(v, i);
        UPDATE ${s}.shards SET
            last_seq = v_last_seq + v_count,
            last_time = v_end_time,
            min_time = least(min_time, v_min_time),
            max_time = greatest(max_time, v_max_time),
            last_position = v_first_position + v_count - 1
          WHERE stream = p_stream AND key = p_key;
        -- Delivered at commit, to LISTENers of this schema's channel (subscriptions poll as well).
        PERFORM pg_notify(${literal(commitChannel(schema))}, (v_first_position + v_count - 1)::text);
        first_seq := v_last_seq + 1;
        first_position := v_first_position;
        RETURN NEXT;
      END
      $fn$;
    `,
  },
  {
    version: 3,
    name: 'replay_tasks: shard tasks shared by replay processes (spive replay --workers-from)',
    sql: (s) => `
      -- One row per task of a replay job: claimed with FOR UPDATE SKIP LOCKED, held until
      -- held_until (ms on the claimer's clock, renewed while it works), then done (replay-claims.ts).
      CREATE TABLE ${s}.replay_tasks (
        job        text NOT NULL,
        phase      text NOT NULL,
        key        text NOT NULL,
        state      text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'held', 'done')),
        holder     text,
        held_until double precision,
        PRIMARY KEY (job, phase, key)
      );
    `,
  },
];

/** A SQL string literal (only ever of names already restricted to safe characters). */
function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}
