/**
 * What `spive dataset generate` needs to know about an example: where its app module is and how to
 * make realistic input events for it. Keys come from a Zipf sampler and times from the daily cycle
 * (shape.ts); an example decides what the events say.
 */
import type { JsonValue } from '../../../src/model/event.ts';
import type { Random } from '../../../src/random/random.ts';

export interface ExampleParams {
  /** Distinct keys of the Zipf law (accounts, players…). */
  readonly keys: number;
  readonly skew: number;
  readonly random: Random;
}

export interface ExampleInput {
  readonly stream: string;
  readonly key: string;
  readonly type: string;
  /** Plain JSON (it is handed to handlers as is, as the store would after parsing). */
  readonly data: JsonValue;
}

/** Makes the i-th input event (0-based), in order; it may keep state between calls. */
export type InputMaker = (i: number) => ExampleInput;

export interface DatasetExample {
  readonly name: string;
  /** The app module, as an absolute file URL. */
  readonly app: URL;
  readonly description: string;
  readonly defaultKeys: number;
  inputs(params: ExampleParams): InputMaker;
}
