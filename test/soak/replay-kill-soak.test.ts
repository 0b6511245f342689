/**
 * The replay kill campaign of `npm run soak`: `spive replay` killed with SIGKILL 25 times at random
 * moments on a larger store, then finished; the result must equal an uninterrupted run
 * (test/replay/kill-campaign.ts). `SPIVE_REPLAY_KILLS` and `SPIVE_SEED` override count and seed.
 */
import { countFromEnv } from '../store/embedded/crash-checks.ts';
import { replayKillSuite } from '../replay/kill-campaign.ts';

replayKillSuite(countFromEnv('SPIVE_REPLAY_KILLS', 25), { events: 6000, accounts: 300 }, 600_000);
