/**
 * `spive replay` is resumable: a real child process killed with SIGKILL at random moments and started
 * again with the same plan ends with exactly the output of an uninterrupted run (kill-campaign.ts).
 * `SPIVE_REPLAY_KILLS` sets the number of kills (default 5; `npm run soak` runs 25).
 */
import { countFromEnv } from '../store/embedded/crash-checks.ts';
import { replayKillSuite } from './kill-campaign.ts';

replayKillSuite(countFromEnv('SPIVE_REPLAY_KILLS', 5), { events: 2000, accounts: 100 }, 120_000);
