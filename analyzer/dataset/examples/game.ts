/**
 * Game inputs (examples/game): up to 64 matches in progress at once, each between 2–4 players drawn
 * by a Zipf law (popular players play a lot), keyed by match. A match starts, gets a log-normal number
 * of score reports (2% of them client retries with a previous report id, a few from players not in the
 * match), then ends. A free-text note of log-normal length gives payload sizes a heavy tail.
 */
import { FillerText, logNormalLength, ZipfSampler } from '../shape.ts';
import type { DatasetExample, ExampleInput } from './example.ts';

const CONCURRENT = 64;

interface Match {
  readonly id: string;
  readonly players: string[];
  reportsLeft: number;
  lastReport: string | undefined;
}

export const gameExample: DatasetExample = {
  name: 'game',
  app: new URL('../../../examples/game/app.ts', import.meta.url),
  description: 'matches, scores, ratings and a leaderboard (scoring → leaderboard → rankings)',
  defaultKeys: 2_000,
  inputs({ keys, skew, random }) {
    const zipf = new ZipfSampler(keys, skew);
    const slots: Array<Match | undefined> = new Array(CONCURRENT);
    const note = new FillerText(random.stream('note-corpus'), 4096);
    let matches = 0;
    // One string per player, made once (as in bank.ts: maps keyed by player meet the same string).
    const names: string[] = new Array(keys);
    const playerName = (rank: number): string => (names[rank] ??= `player-${rank}`);
    return (i): ExampleInput => {
      const slot = random.int(0, CONCURRENT - 1);
      const match = slots[slot];
      if (match === undefined) {
        const size = Math.min(keys, random.int(2, 4));
        const players = new Set<string>();
        while (players.size < size) players.add(playerName(zipf.sample(random)));
        const id = `match-${matches++}`;
        slots[slot] = { id, players: [...players], reportsLeft: logNormalLength(random, 6, 0.6, 1, 60), lastReport: undefined };
        return { stream: 'matches', key: id, type: 'MatchStarted', data: { match: id, players: [...players] } };
      }
      if (match.reportsLeft === 0) {
        slots[slot] = undefined;
        return { stream: 'matches', key: match.id, type: 'MatchEnded', data: { match: match.id } };
      }
      match.reportsLeft--;
      const retry = match.lastReport !== undefined && random.chance(0.02);
      const id = retry ? (match.lastReport as string) : `r${i}`;
      match.lastReport = id;
      const player = random.chance(0.01) ? playerName(zipf.sample(random)) : (match.players[random.int(0, match.players.length - 1)] as string);
      const text = note.take(random, logNormalLength(random, 12, 1.2, 0, 4096));
      return { stream: 'matches', key: match.id, type: 'ScoreReported', data: { match: match.id, player, points: random.int(1, 10), id, note: text } };
    };
  },
};
