import { test } from 'node:test';
import { useControlPlane } from './support.js';
import { FAULTS, propertyRound } from './write-property.js';

// The short run of the apply-member -f property for CI: every fault once or twice, about 30 s. The long run is
// test/soak/write-property.soak.ts. WRITE_SEED=N replays a run (each round uses seed N + round).

const env = useControlPlane();
const seed = Number(process.env.WRITE_SEED ?? Math.floor(Math.random() * 1e9));

test(
  `apply-member -f: lines, exit code and cluster agree for random files and faults (WRITE_SEED=${seed})`,
  { timeout: 10 * 60_000 },
  async (t) => {
    for (let round = 0; round < FAULTS.length; round++) {
      const fault = FAULTS[(round + seed) % FAULTS.length] ?? 'none';
      t.diagnostic(`round ${round}: ${await propertyRound(env, seed + round, fault)}`);
    }
  },
);
