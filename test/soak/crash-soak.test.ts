/**
 * The full crash campaign (`npm run soak`): 1,000 power cuts on the simulated disk and 50 SIGKILLs of
 * a real writer process, the same checks as the samples in `npm test` (test/store/embedded/).
 * `SPIVE_POWER_CUTS`, `SPIVE_KILLS` and `SPIVE_SEED` override the counts and the first seed.
 */
import { countFromEnv, killSuite, powerLossSuite } from '../store/embedded/crash-checks.ts';

powerLossSuite(countFromEnv('SPIVE_POWER_CUTS', 1000));
killSuite(countFromEnv('SPIVE_KILLS', 50));
