/**
 * SIGKILL of a real writer process (fixtures/append-child.ts) at seeded random moments, on one store
 * that has to survive every kill: after each, every acknowledged batch is there exactly once, in
 * order, nothing partial; the next writer takes over the dead one's lock. `SPIVE_KILLS` sets the
 * number of kills (default 10; `npm run soak` runs 50), `SPIVE_SEED` the seed (default 1).
 * The campaign itself is in crash-checks.ts, shared with the soak.
 */
import { countFromEnv, killSuite } from './crash-checks.ts';

killSuite(countFromEnv('SPIVE_KILLS', 10));
