// Drives the session module under Node for wasm_test.go: argv = wasm_exec.js,
// session.wasm, then the hex of a ServerHello{role create} from the test's DS,
// then the hex of a RefreshToken.
// Prints one JSON object with what came out.
require(process.argv[2]);
const fs = require("fs");
const go = new Go();
const hex = (u) => Buffer.from(u).toString("hex");
WebAssembly.instantiate(fs.readFileSync(process.argv[3]), go.importObject).then(({ instance }) => {
  go.run(instance);
  const m = globalThis.conclaveSession;
  const chk = (v) => { if (v instanceof Error) throw v; return v; };
  const secret = new Uint8Array(16).fill(7);
  const cfg = { participant: "P_A", displayName: "Alice <b>", kind: "browser", roomId: "room-1", secret };
  const h = chk(m.create(cfg));
  const now = 1_700_000_000_000;
  const hello = chk(m.start(h, now));
  const created = chk(m.handle(h, new Uint8Array(Buffer.from(process.argv[4], "hex")), now + 1));
  const epoch = created.events.find((e) => e.type === "epoch");
  const roster = created.events.find((e) => e.type === "roster");
  const chat = chk(m.sendChat(h, "hi"));
  const status = chk(m.sendStatus(h, "recording", true));
  const saved = chk(m.save(h));
  const h2 = chk(m.restore(cfg, saved, now + 2));
  const resume = chk(m.start(h2, now + 2));
  const garbage = chk(m.handle(h, new Uint8Array([1, 2, 3]), now + 3));
  const refreshed = chk(m.handle(h, new Uint8Array(Buffer.from(process.argv[5], "hex")), now + 4));
  const badKind = m.create({ ...cfg, kind: "alien" });
  // The same creation with forbidPhones: the group context says so.
  const hp = chk(m.create({ ...cfg, forbidPhones: true }));
  chk(m.start(hp, now));
  const beforeGroup = chk(m.phonesForbidden(hp));
  chk(m.handle(hp, new Uint8Array(Buffer.from(process.argv[4], "hex")), now + 1));
  const badForbid = m.create({ ...cfg, forbidPhones: "yes" });
  const badHandle = m.tick(99, now);
  console.log(JSON.stringify({
    hello: hello.send.map(hex),
    created: created.send.map(hex),
    epoch: epoch && { epoch: epoch.epoch, code: epoch.securityCode, keyLen: epoch.baseKey.length, leaf: epoch.leaf, canSend: epoch.canSend },
    roster: roster && roster.members,
    chat: chat.send.map(hex),
    status: status.send.map(hex),
    resume: resume.send.map(hex),
    deadline: typeof m.deadline(h),
    garbageError: garbage.error || "",
    tokenEvents: refreshed.events.filter((e) => e.type === "token").map((e) => e.token),
    tokenSend: refreshed.send.length,
    tokenError: refreshed.error || "",
    badKindIsError: badKind instanceof Error,
    badHandleIsError: badHandle instanceof Error,
    phonesForbidden: chk(m.phonesForbidden(h)),
    phonesForbiddenBeforeGroup: beforeGroup,
    phonesForbiddenCreated: chk(m.phonesForbidden(hp)),
    badForbidIsError: badForbid instanceof Error,
  }));
  process.exit(0);
});
