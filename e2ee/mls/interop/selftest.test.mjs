// Self-test of driver.mjs: runs the driver as a child process, exactly as the
// Go interoperability test does, and plays a group of three ts-mls clients
// through create, add (Welcome join), key-update commits, remove and
// exporter/epoch-authenticator agreement, in every cipher suite of RFC 9420,
// Section 17.1. Run with `npm run selftest` (node --test).

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** startDriver spawns the driver and returns call(op, params) -> result. */
function startDriver() {
  const child = spawn(process.execPath, [fileURLToPath(new URL("./driver.mjs", import.meta.url))], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const pending = new Map();
  let next = 1;
  lines.on("line", (line) => {
    const res = JSON.parse(line);
    const p = pending.get(res.id);
    pending.delete(res.id);
    if (p) p(res);
  });
  const raw = (req) =>
    new Promise((resolve) => {
      const id = next++;
      pending.set(id, resolve);
      child.stdin.write(JSON.stringify({ id, ...req }) + "\n");
    });
  const call = async (op, params = {}) => {
    const res = await raw({ op, ...params });
    if (!res.ok) throw new Error(`${op}: ${res.error}`);
    return res;
  };
  const close = async () => {
    await raw({ op: "shutdown" });
    child.stdin.end();
    await new Promise((r) => child.once("exit", r));
  };
  return { call, raw, close };
}

async function agree(call, clients, epoch) {
  const label = "conclave interop";
  const context = "0102";
  const results = await Promise.all(
    clients.map(async (c) => ({
      auth: await call("epoch_authenticator", { client: c }),
      exp: await call("export", { client: c, label, context, length: 32 }),
    })),
  );
  for (const r of results) {
    assert.equal(r.auth.epoch, epoch, "epoch");
    assert.equal(r.auth.epoch_authenticator, results[0].auth.epoch_authenticator, "epoch authenticators differ");
    assert.equal(r.exp.secret, results[0].exp.secret, "exported secrets differ");
    assert.equal(r.exp.secret.length, 64);
  }
}

for (const suite of [1, 2, 3, 4, 5, 6, 7]) {
  test(`suite ${suite}: create, add, commit, remove`, async () => {
    const { call, raw, close } = startDriver();
    try {
      const created = await call("create_group", { client: "alice", suite, group_id: "636f6e636c617665" });
      assert.equal(created.epoch, 0);

      const bobKP = await call("key_package", { client: "bob", suite });
      const add = await call("add", { client: "alice", key_packages: [bobKP.key_package] });
      assert.ok(add.welcome, "add must produce a Welcome");
      const joined = await call("join", { client: "bob", welcome: add.welcome });
      assert.equal(joined.epoch_authenticator, add.epoch_authenticator);
      await agree(call, ["alice", "bob"], 1);

      // Bob commits a key update as a PrivateMessage; Alice processes it.
      const upd = await call("commit", { client: "bob" });
      await call("process", { client: "alice", message: upd.commit });
      await agree(call, ["alice", "bob"], 2);

      // Alice adds Carol with a PublicMessage commit.
      const carolKP = await call("key_package", { client: "carol", suite });
      const add2 = await call("add", { client: "alice", key_packages: [carolKP.key_package], wire: "public" });
      await call("process", { client: "bob", message: add2.commit });
      await call("join", { client: "carol", welcome: add2.welcome });
      await agree(call, ["alice", "bob", "carol"], 3);
      const st = await call("state", { client: "carol" });
      assert.deepEqual(st.members.map((m) => m.identity), ["alice", "bob", "carol"]);

      // Carol removes Bob (leaf 1).
      const rm = await call("remove", { client: "carol", leaves: [1] });
      await call("process", { client: "alice", message: rm.commit });
      await agree(call, ["alice", "carol"], 4);
      assert.deepEqual((await call("state", { client: "alice" })).members.map((m) => m.identity), ["alice", "carol"]);

      // Errors are reported, not fatal: a corrupted commit is rejected and
      // the driver keeps serving.
      const bad = upd.commit.slice(0, -4) + "0000";
      const res = await raw({ op: "process", client: "alice", message: bad });
      assert.equal(res.ok, false);
      assert.match((await raw({ op: "nope" })).error, /unknown op/);
      await agree(call, ["alice", "carol"], 4);
    } finally {
      await close();
    }
  });
}
