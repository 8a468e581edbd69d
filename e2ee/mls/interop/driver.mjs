// driver.mjs drives ts-mls (RFC 9420 in TypeScript) from JSON lines, so the Go
// MLS implementation in conclave/e2ee/mls can be tested against an
// independent one. It reads one request per line on stdin and writes one
// response per line on stdout, in order:
//
//   request:  {"id": 1, "op": "create_group", ...params}
//   response: {"id": 1, "ok": true, ...result}  or  {"id": 1, "ok": false, "error": "..."}
//
// Byte strings are lowercase hex. Every MLS object crosses the pipe as a
// serialized MLSMessage (RFC 9420, Section 6), exactly as on the wire.
// Operations (see README.md for parameters and results): key_package,
// create_group, add, remove, commit, process, join, export,
// epoch_authenticator, state, shutdown.
//
// The driver holds named clients. A client has a cipher suite, a basic
// credential and, once in a group, a ts-mls ClientState. Nothing is logged:
// stderr carries only fatal driver errors.

import { createInterface } from "node:readline";
export {
  acceptAll,
  createCommit,
  decodeMessage,
  emptyPskIndex,
  encodeMlsMessage,
  hex,
  processMessage,
  unhex,
};

import {
  ciphersuites,
  createCommit,
  createGroup,
  decodeMlsMessage,
  defaultCapabilities,
  emptyPskIndex,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  getCiphersuiteFromName,
  joinGroup,
  mlsExporter,
  nobleCryptoProvider,
  processMessage,
  acceptAll,
} from "ts-mls";
import { decodeRatchetTree } from "ts-mls/ratchetTree.js";
import { p256, p384, p521 } from "@noble/curves/nist.js";

// ECDSA curves by cipher suite (RFC 9420, Section 17.1).
const ecdsaCurves = { 2: p256, 5: p521, 7: p384 };

/**
 * newKeyPackage generates a KeyPackage whose signature key is encoded as the
 * RFC requires. ts-mls 1.6.4 takes ECDSA public keys from noble-curves 2's
 * getPublicKey, which returns a compressed point, while RFC 9420,
 * Section 5.1.1 requires the uncompressed point; so for the ECDSA suites the
 * driver makes the key pair itself and hands it to ts-mls. The lifetime is
 * bounded too (see below).
 */
async function newKeyPackage(c) {
  // ts-mls's defaultLifetime never expires; RFC 9420, Section 7.2 asks
  // applications to bound lifetimes, and the Go side rejects more than 90
  // days. Use an hour of clock skew before now and 30 days after.
  const now = BigInt(Math.floor(Date.now() / 1000));
  const lifetime = { notBefore: now - 3600n, notAfter: now + 30n * 86400n };
  let keyPair;
  const curve = ecdsaCurves[c.suite];
  if (curve !== undefined) {
    const signKey = curve.utils.randomSecretKey();
    keyPair = { signKey, publicKey: curve.getPublicKey(signKey, false) };
  } else {
    keyPair = await c.impl.signature.keygen();
  }
  return generateKeyPackageWithKey(c.credential, defaultCapabilities(), lifetime, [], keyPair, c.impl);
}

const hex = (b) => Buffer.from(b).toString("hex");
const unhex = (s, name) => {
  if (typeof s !== "string" || !/^([0-9a-f]{2})*$/.test(s)) {
    throw new Error(`${name}: expected a lowercase hex string`);
  }
  return new Uint8Array(Buffer.from(s, "hex"));
};

/** suiteName maps an RFC 9420 cipher suite number to its ts-mls name. */
function suiteName(id) {
  for (const [name, value] of Object.entries(ciphersuites)) {
    if (value === id) return name;
  }
  throw new Error(`unsupported cipher suite ${id}`);
}

/** decodeMessage decodes one MLSMessage that must fill all of bytes. */
function decodeMessage(bytes, wantWire) {
  const res = decodeMlsMessage(bytes, 0);
  if (res === undefined) throw new Error("cannot decode MLSMessage");
  const [msg, end] = res;
  if (end !== bytes.length) throw new Error(`MLSMessage has ${bytes.length - end} trailing bytes`);
  if (wantWire !== undefined && msg.wireformat !== wantWire) {
    throw new Error(`expected ${wantWire}, got ${msg.wireformat}`);
  }
  return msg;
}

export class Driver {
  constructor() {
    /** @type {Map<string, {suite: number, impl: any, credential: any, keyPackages: any[], state: any}>} */
    this.clients = new Map();
  }

  async client(name, suite) {
    let c = this.clients.get(name);
    if (c === undefined) {
      if (suite === undefined) throw new Error(`unknown client ${name}`);
      const impl = await nobleCryptoProvider.getCiphersuiteImpl(getCiphersuiteFromName(suiteName(suite)));
      c = {
        suite,
        impl,
        credential: { credentialType: "basic", identity: new TextEncoder().encode(name) },
        keyPackages: [],
        state: undefined,
      };
      this.clients.set(name, c);
    } else if (suite !== undefined && suite !== c.suite) {
      throw new Error(`client ${name} uses suite ${c.suite}, not ${suite}`);
    }
    return c;
  }

  inGroup(c, name) {
    if (c.state === undefined) throw new Error(`client ${name} is not in a group`);
    return c.state;
  }

  summary(c) {
    const s = c.state;
    return {
      epoch: Number(s.groupContext.epoch),
      epoch_authenticator: hex(s.keySchedule.epochAuthenticator),
    };
  }

  async commitWith(c, name, proposals, req) {
    const res = await createCommit(
      { state: this.inGroup(c, name), cipherSuite: c.impl, pskIndex: emptyPskIndex },
      {
        extraProposals: proposals,
        ratchetTreeExtension: true,
        wireAsPublicMessage: req.wire === "public",
      },
    );
    c.state = res.newState;
    const out = { commit: hex(encodeMlsMessage(res.commit)), ...this.summary(c) };
    if (res.welcome !== undefined) {
      out.welcome = hex(encodeMlsMessage({ version: "mls10", wireformat: "mls_welcome", welcome: res.welcome }));
    }
    return out;
  }

  /** handle runs one request and returns the result fields. */
  async handle(req) {
    switch (req.op) {
      case "key_package": {
        // {client, suite} -> {key_package}: a fresh KeyPackage (MLSMessage);
        // its private keys stay in the driver for a later join.
        const c = await this.client(req.client, req.suite);
        const kp = await newKeyPackage(c);
        c.keyPackages.push(kp);
        const msg = { version: "mls10", wireformat: "mls_key_package", keyPackage: kp.publicPackage };
        return { key_package: hex(encodeMlsMessage(msg)) };
      }
      case "create_group": {
        // {client, suite, group_id} -> {epoch, epoch_authenticator}
        const c = await this.client(req.client, req.suite);
        const kp = await newKeyPackage(c);
        c.state = await createGroup(unhex(req.group_id, "group_id"), kp.publicPackage, kp.privatePackage, [], c.impl);
        return this.summary(c);
      }
      case "add": {
        // {client, key_packages: [hex MLSMessage], wire?} -> {commit, welcome, epoch, epoch_authenticator}
        const c = await this.client(req.client);
        const proposals = (req.key_packages ?? []).map((kp, i) => ({
          proposalType: "add",
          add: { keyPackage: decodeMessage(unhex(kp, `key_packages[${i}]`), "mls_key_package").keyPackage },
        }));
        if (proposals.length === 0) throw new Error("add needs key_packages");
        return this.commitWith(c, req.client, proposals, req);
      }
      case "remove": {
        // {client, leaves: [leaf index], wire?} -> {commit, epoch, epoch_authenticator}
        const c = await this.client(req.client);
        const leaves = req.leaves ?? [];
        if (leaves.length === 0 || !leaves.every((l) => Number.isInteger(l) && l >= 0)) {
          throw new Error("remove needs leaves: non-negative integers");
        }
        const proposals = leaves.map((l) => ({ proposalType: "remove", remove: { removed: l } }));
        return this.commitWith(c, req.client, proposals, req);
      }
      case "commit": {
        // {client, wire?} -> {commit, epoch, epoch_authenticator}: a Commit
        // with no proposals and an UpdatePath (a key update).
        const c = await this.client(req.client);
        return this.commitWith(c, req.client, [], req);
      }
      case "process": {
        // {client, message: hex MLSMessage} -> {epoch, epoch_authenticator, kind}
        // or, for an application message, {kind: "application", data}.
        const c = await this.client(req.client);
        const msg = decodeMessage(unhex(req.message, "message"));
        if (msg.wireformat !== "mls_public_message" && msg.wireformat !== "mls_private_message") {
          throw new Error(`process: cannot process ${msg.wireformat}`);
        }
        const res = await processMessage(msg, this.inGroup(c, req.client), emptyPskIndex, acceptAll, c.impl);
        c.state = res.newState;
        if (res.kind === "applicationMessage") return { kind: "application", data: hex(res.message) };
        return { kind: "handshake", ...this.summary(c) };
      }
      case "join": {
        // {client, welcome: hex MLSMessage, ratchet_tree?: hex} -> {epoch, epoch_authenticator}
        // Tries each KeyPackage the client generated, newest first.
        const c = await this.client(req.client);
        const welcome = decodeMessage(unhex(req.welcome, "welcome"), "mls_welcome").welcome;
        let tree;
        if (req.ratchet_tree !== undefined) {
          const bytes = unhex(req.ratchet_tree, "ratchet_tree");
          const res = decodeRatchetTree(bytes, 0);
          if (res === undefined || res[1] !== bytes.length) throw new Error("cannot decode ratchet_tree");
          tree = res[0];
        }
        let lastErr = new Error(`client ${req.client} has no key package`);
        for (const kp of [...c.keyPackages].reverse()) {
          try {
            c.state = await joinGroup(welcome, kp.publicPackage, kp.privatePackage, emptyPskIndex, c.impl, tree);
            c.keyPackages = c.keyPackages.filter((k) => k !== kp);
            return this.summary(c);
          } catch (e) {
            lastErr = e;
          }
        }
        throw lastErr;
      }
      case "export": {
        // {client, label, context: hex, length} -> {secret}: MLS-Exporter (Section 8.5)
        const c = await this.client(req.client);
        const s = this.inGroup(c, req.client);
        const secret = await mlsExporter(s.keySchedule.exporterSecret, req.label, unhex(req.context ?? "", "context"), req.length, c.impl);
        return { secret: hex(secret) };
      }
      case "epoch_authenticator": {
        // {client} -> {epoch, epoch_authenticator} (Section 8.7)
        const c = await this.client(req.client);
        this.inGroup(c, req.client);
        return this.summary(c);
      }
      case "state": {
        // {client} -> {epoch, epoch_authenticator, members: [{leaf, identity}]}
        const c = await this.client(req.client);
        const s = this.inGroup(c, req.client);
        const members = [];
        s.ratchetTree.forEach((node, i) => {
          if (i % 2 === 0 && node !== undefined && node.nodeType === "leaf") {
            const cred = node.leaf.credential;
            members.push({ leaf: i / 2, identity: cred.credentialType === "basic" ? new TextDecoder().decode(cred.identity) : "" });
          }
        });
        return { ...this.summary(c), members };
      }
      default:
        throw new Error(`unknown op ${JSON.stringify(req.op)}`);
    }
  }
}

/**
 * serve answers requests from input on output until EOF or shutdown, with
 * driver (a Driver, or a subclass adding operations such as bench.mjs's).
 */
export async function serve(input, output, driver = new Driver()) {
  const lines = createInterface({ input, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    let req;
    try {
      req = JSON.parse(line);
    } catch {
      output.write(JSON.stringify({ id: null, ok: false, error: "request is not JSON" }) + "\n");
      continue;
    }
    if (req.op === "shutdown") {
      output.write(JSON.stringify({ id: req.id, ok: true }) + "\n");
      break;
    }
    try {
      const res = await driver.handle(req);
      output.write(JSON.stringify({ id: req.id, ok: true, ...res }) + "\n");
    } catch (e) {
      output.write(JSON.stringify({ id: req.id, ok: false, error: String(e?.message ?? e) }) + "\n");
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  serve(process.stdin, process.stdout).catch((e) => {
    process.stderr.write(`driver: ${e?.stack ?? e}\n`);
    process.exit(1);
  });
}
