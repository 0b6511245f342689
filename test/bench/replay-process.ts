/**
 * The replay benchmark's own process (see replayBench in replay.ts): `replay-process.ts <store dir>
 * <events>` measures the replay figures over the built store and prints each result as one JSON line
 * on stdout; progress goes to stderr.
 */
import { measureReplay } from './replay.ts';

const [dir, events] = process.argv.slice(2);
if (dir === undefined || !(Number(events) > 0)) {
  process.stderr.write('usage: replay-process.ts <store dir> <events>\n');
  process.exit(2);
}
await measureReplay(dir, Number(events), (r) => process.stdout.write(`${JSON.stringify(r)}\n`));
