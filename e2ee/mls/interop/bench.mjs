// bench.mjs times ts-mls (RFC 9420 in TypeScript, with nobleCryptoProvider)
// doing the operations the Go benchmarks in conclave/e2ee/mls time, on the
// same group: the Go benchmark BenchmarkVersusTSMLS builds the tree, has a
// ts-mls client join it through a Welcome, and asks this script to time
// that client. It speaks the JSON-lines protocol of driver.mjs (every
// driver operation works) and adds three operations, each timing
// `iterations` runs from the same ClientState, after one untimed warm-up
// run, without keeping the result (ts-mls states are immutable values):
//
//   bench_commit  {client, iterations, wire?}
//       createCommit with no proposals (a commit with an UpdatePath)
//       -> {ns_per_op, cpu_ns_per_op, commit}   (the last commit, MLSMessage)
//   bench_process {client, iterations, message}
//       processMessage of a commit from another member
//       -> {ns_per_op, cpu_ns_per_op}
//   bench_add     {client, iterations, key_package, wire?}
//       createCommit adding one KeyPackage, with the ratchet_tree extension
//       -> {ns_per_op, cpu_ns_per_op, welcome_bytes}
//
// ns_per_op is wall time; cpu_ns_per_op is the process's CPU time (user and
// system, all threads, so garbage collection included), which a loaded
// machine distorts much less.

import { Driver, serve, acceptAll, createCommit, decodeMessage, emptyPskIndex, encodeMlsMessage, hex, processMessage, unhex } from "./driver.mjs";

/** timeIt runs op once untimed, then iterations times, and returns the means. */
async function timeIt(iterations, op) {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > 1e6) {
    throw new Error("iterations must be an integer in [1, 1e6]");
  }
  let last = await op();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) last = await op();
  const wall = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  return { ns_per_op: wall / iterations, cpu_ns_per_op: ((cpu.user + cpu.system) * 1000) / iterations, last };
}

class BenchDriver extends Driver {
  async handle(req) {
    switch (req.op) {
      case "bench_commit": {
        const c = await this.client(req.client);
        const state = this.inGroup(c, req.client);
        const r = await timeIt(req.iterations, () =>
          createCommit({ state, cipherSuite: c.impl, pskIndex: emptyPskIndex }, { wireAsPublicMessage: req.wire === "public" }),
        );
        return { ns_per_op: r.ns_per_op, cpu_ns_per_op: r.cpu_ns_per_op, commit: hex(encodeMlsMessage(r.last.commit)) };
      }
      case "bench_process": {
        const c = await this.client(req.client);
        const state = this.inGroup(c, req.client);
        const msg = decodeMessage(unhex(req.message, "message"));
        const r = await timeIt(req.iterations, () => processMessage(msg, state, emptyPskIndex, acceptAll, c.impl));
        if (Number(r.last.newState.groupContext.epoch) !== Number(state.groupContext.epoch) + 1) {
          throw new Error("bench_process: the message did not move the group to the next epoch");
        }
        return { ns_per_op: r.ns_per_op, cpu_ns_per_op: r.cpu_ns_per_op };
      }
      case "bench_add": {
        const c = await this.client(req.client);
        const state = this.inGroup(c, req.client);
        const kp = decodeMessage(unhex(req.key_package, "key_package"), "mls_key_package").keyPackage;
        const r = await timeIt(req.iterations, () =>
          createCommit(
            { state, cipherSuite: c.impl, pskIndex: emptyPskIndex },
            { extraProposals: [{ proposalType: "add", add: { keyPackage: kp } }], ratchetTreeExtension: true, wireAsPublicMessage: req.wire === "public" },
          ),
        );
        const welcome = encodeMlsMessage({ version: "mls10", wireformat: "mls_welcome", welcome: r.last.welcome });
        return { ns_per_op: r.ns_per_op, cpu_ns_per_op: r.cpu_ns_per_op, welcome_bytes: welcome.length };
      }
      default:
        return super.handle(req);
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  serve(process.stdin, process.stdout, new BenchDriver()).catch((e) => {
    process.stderr.write(`bench: ${e?.stack ?? e}\n`);
    process.exit(1);
  });
}
