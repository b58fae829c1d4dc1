/** Spurious retransmissions against the RTO floor, in virtual time (tests/arq_link.ts): run it
 * with RTO_MIN in lib/protocol/constants.ts set to each floor to compare; docs/protocol.md has the
 * table. Usage: deno run bench/rto_floor.ts */
import { ArqLink } from "../tests/arq_link.ts";
const links = [["0.1 ms", 0.05, 0], ["5±2 ms", 2.5, 1], ["25±5 ms", 12.5, 2.5]] as const;
const rows: string[] = [];
for (const [name, delay, jitter] of links) {
  for (const loss of [0, 0.05, 0.1]) {
    let rt = 0, sp = 0, to = 0, spTo = 0;
    const lat: number[] = [];
    for (const seed of [1, 2, 3]) {
      const l = new ArqLink({ seed, path: { delay, jitter, loss } });
      const sentAt: number[] = [];
      for (let i = 0; i < 1000; i++) {
        l.at(i * 5, () => {
          sentAt.push(l.now);
          l.send("a", `m${i}`);
        });
      }
      let seen = 0;
      l.run(() => {
        while (seen < l.b.received.length) lat.push(l.b.receivedAt[seen] - sentAt[seen++]);
        return l.a.delivered.length === 1000;
      }, 600_000);
      const s = l.a.arq.stats();
      rt += s.retransmits;
      sp += s.spuriousRetransmits;
      to += s.timeouts;
      spTo += s.spuriousTimeouts;
    }
    lat.sort((x, y) => x - y);
    const p99 = lat[Math.floor(lat.length * 0.99)];
    rows.push(
      `| ${name} | ${loss * 100}% | ${rt} | ${sp} (${
        (100 * sp / Math.max(rt, 1)).toFixed(1)
      }%) | ${to} | ${spTo} | ${p99.toFixed(2)} |`,
    );
  }
}
console.log(rows.join("\n"));
