/** Record-size limits (RFC 8446 §5.1, §5.2). */
export const MAX_PLAINTEXT = 2 ** 14;
/** TLSCiphertext.length may not exceed 2^14 + 256. */
export const MAX_CIPHERTEXT = 2 ** 14 + 256;
export const RECORD_HEADER_LENGTH = 5;
export const AEAD_TAG_LENGTH = 16;
/** RFC 5246 §6.2.3: TLSCiphertext.length may not exceed 2^14 + 2048 in TLS 1.2. */
export const MAX_CIPHERTEXT_TLS12 = 2 ** 14 + 2048;
