/**
 * Named, deliberate breakages of the platform, for proving that the simulator's built-in oracles
 * catch a broken *platform*, not only a broken app. Only the simulator switches them on (an app under
 * `examples/buggy/` declares the one it runs under); production code never does.
 */
export const RUNTIME_MUTATIONS = {
  /** The store accepts appends whatever their fencing token: a stale writer is not fenced. */
  'skip-fencing': 'the store does not check fencing tokens',
  /** Runners append outputs without `expect: {lastSeq}`: a lost append leaves a silent gap. */
  'unconditional-append': 'output appends are not conditional on the shard head',
  /** Runners perform effects while catching up instead of suppressing them. */
  'effects-during-catch-up': 'effects are performed during catch-up',
  /** After a lost reply, runners resend the same append blindly instead of restarting from the store. */
  'blind-retry': 'a timed-out append is sent again without checking whether it landed',
} as const;

export type RuntimeMutation = keyof typeof RUNTIME_MUTATIONS;

export function isRuntimeMutation(name: string): name is RuntimeMutation {
  return name in RUNTIME_MUTATIONS;
}
