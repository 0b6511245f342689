/** Deterministic bank inputs for tests: six accounts, then deposits and transfers (some repeated ids). */
export type BankInput = { type: string; data: { [k: string]: string | number }; time: number };

export function bankInputs(seed: number, n: number): BankInput[] {
  const inputs: BankInput[] = [];
  let x = seed >>> 0;
  const next = (k: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % k);
  for (let a = 0; a < 6; a++) inputs.push({ type: 'AccountOpened', data: { account: `a${a}`, overdraftLimit: 50 }, time: inputs.length });
  while (inputs.length < n) {
    const i = inputs.length;
    if (next(3) === 0) inputs.push({ type: 'Deposited', data: { id: `d${next(n)}`, account: `a${next(6)}`, amount: 1 + next(100) }, time: i });
    else inputs.push({ type: 'TransferRequested', data: { id: `t${next(n)}`, from: `a${next(6)}`, to: `a${next(6)}`, amount: 1 + next(120) }, time: i });
  }
  return inputs;
}
