/** The examples `spive dataset generate` knows how to feed. */
import { bankExample } from './bank.ts';
import type { DatasetExample } from './example.ts';
import { gameExample } from './game.ts';

export type { DatasetExample, ExampleInput, ExampleParams, InputMaker } from './example.ts';

export const DATASET_EXAMPLES: readonly DatasetExample[] = [bankExample, gameExample];

export function findExample(name: string): DatasetExample | undefined {
  return DATASET_EXAMPLES.find((e) => e.name === name);
}
