import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type CipherSuite,
  FrameKey,
  Receiver,
  Sender,
  SFrameError,
  encodeHeader,
  hkdfBits,
  importBaseKey,
  keyLabel,
  parseHeader,
  saltLabel,
  suiteName,
  suiteParams,
} from '../../src/e2ee/sframe';
import { hex, loadVectors, toHex } from './vectors';

const v = loadVectors();
const counts = { header: 0, aes_ctr_hmac: 0, sframe: 0 };

test('RFC 9605 header vectors', async (t) => {
  for (const c of v.header) {
    await t.test(`kid=${c.kid} ctr=${c.ctr}`, () => {
      assert.equal(toHex(encodeHeader(c.kid, c.ctr)), c.encoded);
      const wire = new Uint8Array([...hex(c.encoded), 0xaa, 0xbb]);
      const { header, length } = parseHeader(wire);
      assert.equal(header.kid, c.kid);
      assert.equal(header.ctr, c.ctr);
      assert.equal(length, c.encoded.length / 2);
      counts.header++;
    });
  }
});

test('RFC 9605 AES-CTR-HMAC vectors', async (t) => {
  for (const c of v.aes_ctr_hmac) {
    await t.test(suiteName(c.cipher_suite), async () => {
      const suite = c.cipher_suite as CipherSuite;
      const key = await FrameKey.fromCompoundKey(suite, 0n, new Uint8Array(12), hex(c.key));
      assert.equal(toHex(await key.seal(hex(c.nonce), hex(c.aad), hex(c.pt))), c.ct);
      assert.equal(toHex(await key.open(hex(c.nonce), hex(c.aad), hex(c.ct))), c.pt);
      const bad = hex(c.ct);
      bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1;
      await assert.rejects(key.open(hex(c.nonce), hex(c.aad), bad), (e: unknown) => e instanceof SFrameError && e.reason === 'auth');
      counts.aes_ctr_hmac++;
    });
  }
});

test('RFC 9605 SFrame vectors', async (t) => {
  for (const c of v.sframe) {
    await t.test(suiteName(c.cipher_suite), async () => {
      const suite = c.cipher_suite as CipherSuite;
      const p = suiteParams(suite);
      assert.equal(toHex(keyLabel(c.kid, suite)), c.sframe_key_label);
      assert.equal(toHex(saltLabel(c.kid, suite)), c.sframe_salt_label);
      const base = await importBaseKey(hex(c.base_key));
      assert.equal(toHex(await hkdfBits(p.hash, base, keyLabel(c.kid, suite), p.nk)), c.sframe_key);
      assert.equal(toHex(await hkdfBits(p.hash, base, saltLabel(c.kid, suite), 12)), c.sframe_salt);
      const fk = await FrameKey.derive(suite, c.kid, base);
      assert.equal(toHex(fk.nonce(c.ctr)), c.nonce);
      const header = encodeHeader(c.kid, c.ctr);
      assert.equal(toHex(header) + c.metadata, c.aad);

      const sender = await Sender.createAt(suite, c.kid, base, c.ctr);
      assert.equal(toHex(await sender.encrypt(hex(c.metadata), hex(c.pt))), c.ct);
      const receiver = new Receiver(suite);
      await receiver.addKey(c.kid, base);
      assert.equal(toHex(await receiver.decrypt(hex(c.metadata), hex(c.ct))), c.pt);
      counts.sframe++;
    });
  }
});

test('every vector passed', () => {
  console.log(
    `RFC 9605 vectors passed: ${counts.header}/${v.header.length} header, ` +
      `${counts.aes_ctr_hmac}/${v.aes_ctr_hmac.length} aes_ctr_hmac, ${counts.sframe}/${v.sframe.length} sframe`,
  );
  assert.equal(counts.header, v.header.length);
  assert.equal(counts.aes_ctr_hmac, v.aes_ctr_hmac.length);
  assert.equal(counts.sframe, v.sframe.length);
});
