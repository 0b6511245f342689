/**
 * Which figure a calibration keeps of its timed repetitions. A replay runs for seconds, so it gets
 * the machine's average share of a CPU, not its best moment: on a busy machine the best of a few
 * millisecond-long repetitions is one that happened not to be preempted, and estimates made from it
 * fell short of real runs by 2-4x (a 2-core machine at load 10). The mean does what a long run
 * does; the slowest repetition is left out (one garbage collection or one stray stall is not the
 * machine's load). On an idle machine the mean is the best within a few percent.
 */
export function typicalMs(times: readonly number[]): number {
  if (times.length === 0) return 0;
  if (times.length < 3) return times.reduce((a, b) => a + b, 0) / times.length;
  const sorted = [...times].sort((a, b) => a - b);
  sorted.pop();
  return sorted.reduce((a, b) => a + b, 0) / sorted.length;
}
