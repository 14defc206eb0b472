// Why a request got no answer, in words. Node's fetch fails with "fetch failed" and puts the reason
// in `cause` as a code (ENOTFOUND, ECONNREFUSED, undici's UND_ERR_*), which the Hub's and NuGet's
// "cannot reach …" messages showed as it was: "cannot reach https://huggingface.co: ENOTFOUND".

const NO_ANSWER = 'it did not answer in time';
const UNTRUSTED =
  'its certificate is not trusted (behind a proxy? give its certificate in NODE_EXTRA_CA_CERTS)';

const WORDS: Record<string, string> = {
  ENOTFOUND: 'its name could not be looked up (no network connection, or a wrong address)',
  EAI_AGAIN: 'its name could not be looked up (no network connection?)',
  ECONNREFUSED: 'nothing answers at that address (connection refused)',
  ECONNRESET: 'the connection was cut',
  UND_ERR_SOCKET: 'the connection was cut',
  ETIMEDOUT: NO_ANSWER,
  UND_ERR_CONNECT_TIMEOUT: NO_ANSWER,
  UND_ERR_HEADERS_TIMEOUT: NO_ANSWER,
  ENETUNREACH: 'the network is unreachable (no network connection?)',
  EHOSTUNREACH: 'the host is unreachable (no network connection?)',
  CERT_HAS_EXPIRED: 'its certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: UNTRUSTED,
  SELF_SIGNED_CERT_IN_CHAIN: UNTRUSTED,
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: UNTRUSTED,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: UNTRUSTED,
};

/** Why a failed request got no answer: a known code in words, else the most specific message. */
export function networkCause(err: unknown): string {
  const e = err as {
    code?: unknown;
    message?: unknown;
    cause?: { code?: unknown; message?: unknown };
  } | null;
  for (const code of [e?.cause?.code, e?.code]) {
    if (typeof code === 'string' && WORDS[code]) return WORDS[code];
  }
  const message = e?.cause?.message ?? e?.message;
  return typeof message === 'string' && message ? message : String(err);
}
