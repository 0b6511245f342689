/** The planner tests' app as a module the CLI can load: version v2 of `tally` (the store holds v1's output). */
import { historyApp } from './fixtures.ts';

export default historyApp({ version: 'v2', snapshotEvery: 100 }).app;
