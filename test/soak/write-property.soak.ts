// The long run of the apply-member -f property (`npm run soak`): WRITE_ROUNDS rounds (default 100), each a random
// file and fault checked against the model in test/integration/write-property.ts. WRITE_SEED=N replays a run.
import { test } from 'node:test';
import { useControlPlane } from '../integration/support.js';
import { FAULTS, propertyRound } from '../integration/write-property.js';

const env = useControlPlane();
const ROUNDS = Number(process.env.WRITE_ROUNDS ?? 100);
const seed = Number(process.env.WRITE_SEED ?? Math.floor(Math.random() * 1e9));

test(
  `soak: ${ROUNDS} rounds of apply-member -f with random files and faults (WRITE_SEED=${seed})`,
  { timeout: 120 * 60_000 },
  async (t) => {
    const counts = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      const fault = FAULTS[(round + seed) % FAULTS.length] ?? 'none';
      t.diagnostic(`round ${round}: ${await propertyRound(env, seed + round, fault)}`);
      counts.set(fault, (counts.get(fault) ?? 0) + 1);
    }
    t.diagnostic(`rounds per fault: ${[...counts].map(([f, n]) => `${f} ${n}`).join(', ')}`);
  },
);
