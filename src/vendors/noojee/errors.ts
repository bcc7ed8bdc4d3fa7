/**
 * What a Noojee answer that is not a recording means for the item. The seed
 * (seeds/noojee-recording-api-2.7.14.txt) says only "Deleted, private and Recordings where the call is still
 * in progress may not be retrieved" and "otherwise an error message is returned"; the words of the fault
 * string or text are all there is, so they are matched loosely:
 * - still being recorded → `E_NOT_READY`, retryable (the engine retries it up to `--not-ready-wait`);
 * - deleted, private, not found, unknown user, an empty result → `E_NOT_FOUND`, not retryable (the next
 *   run tries again: a failed item is not done);
 * - any other fault or text → `E_PROTOCOL`, not retryable, carrying the server's words.
 * A fault's `faultcode` is kept as `vendorCode`. Messages never hold a URL (the listing's carries the apiKey).
 */
import { RecpullError } from '../../core/errors.js';
import { redact } from '../../core/redact.js';
import { SoapAnswerError } from '../../formats/soap-text.js';

/** Why a recording was refused, from the server's words. */
export type NoojeeRefusal = 'in-progress' | 'deleted' | 'private' | 'unknown-user' | 'not-found' | 'other';

/** Classifies a fault string or error text. */
export function refusalOf(text: string): NoojeeRefusal {
  if (
    /in progress|still (being )?record|currently (being )?record|not (yet )?(finished|complete|ended)|active call|call has not ended/i.test(
      text,
    )
  )
    return 'in-progress';
  if (/deleted|removed|purged/i.test(text)) return 'deleted';
  if (/private/i.test(text)) return 'private';
  if (/(unknown|invalid|no such) user|user\b.*\b(not found|unknown|does not exist)/i.test(text))
    return 'unknown-user';
  if (
    /not found|no recording|does not exist|no such|unknown (tag|unique ?id|recording)|cannot find|could not find/i.test(
      text,
    )
  )
    return 'not-found';
  return 'other';
}

const REASON: Record<NoojeeRefusal, string> = {
  'in-progress': 'is still being recorded',
  deleted: 'was deleted',
  private: 'is private',
  'unknown-user': 'cannot be retrieved: the server does not know the user',
  'not-found': 'was not found',
  other: 'was refused',
};

/**
 * The item error for a server answer in words (`SoapAnswerError` from src/formats/soap-text.ts). `what`
 * names the recording (`Noojee recording tag "A&B"`); `status` is the HTTP status it came with.
 */
export function answerError(err: SoapAnswerError, what: string, status?: number): RecpullError {
  const words = redact(err.text);
  const opts = {
    ...(err.faultcode ? { vendorCode: err.faultcode } : {}),
    ...(status !== undefined ? { status } : {}),
    cause: err,
  };
  if (err.kind === 'empty')
    return new RecpullError(
      'E_NOT_FOUND',
      `${what}: the server returned an empty result (no recording)`,
      opts,
    );
  if (err.kind === 'html')
    return new RecpullError('E_BAD_AUDIO', `${what}: the server answered with an HTML page: ${words}`, opts);
  const refusal = refusalOf(err.text);
  const source = err.kind === 'fault' ? 'SOAP fault' : 'error text';
  const message = `${what} ${REASON[refusal]} (${source}: ${words})`;
  if (refusal === 'in-progress')
    return new RecpullError('E_NOT_READY', message, { ...opts, retryable: true });
  if (refusal === 'other') return new RecpullError('E_PROTOCOL', message, opts);
  return new RecpullError('E_NOT_FOUND', message, opts);
}
