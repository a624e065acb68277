// An authenticator app in a few lines, for the MFA tests: RFC 4648 base32 and RFC 6238 TOTP
// (HMAC-SHA-1, 6 digits, 30-second steps) with node:crypto, independent of latchd's C code.
import { createHmac } from 'node:crypto';

/** The bytes of a base32 secret (case, spaces and padding ignored, as apps take them). */
export function base32Decode(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of s.replace(/[\s=]/g, '').toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The current time step (or the one of `ms`). */
export const totpStep = (ms = Date.now()) => Math.floor(ms / 30000);

/** The 6-digit TOTP of a base32 secret for time step `step` (now by default). */
export function totp(secret, step = totpStep()) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32Decode(secret)).update(msg).digest();
  const off = mac[19] & 0xf;
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1e6).padStart(6, '0');
}

/** A 6-digit code that is not `code`. */
export const otherCode = (code, by = 1) => String((Number(code) + by) % 1e6).padStart(6, '0');
