/**
 * The XML the Noojee emulator writes, after noojee/axis-soap-over-get.md:
 * - Axis 1 (`QSMethodHandler`): `<soapenv:Envelope>…<{op}Response soapenv:encodingStyle=…><{op}Return
 *   xsi:type="xsd:base64Binary">…</{op}Return>`, faults as SOAP 1.1 envelopes (HTTP 500), `Server.Unauth…`
 *   faults as 401 with `WWW-Authenticate: Basic realm="AXIS"`;
 * - Axis 2 REST (POX): `<ns:{op}Response xmlns:ns="…"><ns:return>…</ns:return></ns:{op}Response>`, faults
 *   as a SOAP 1.1 Fault with another prefix (Axis 2 writes `soapenv:` too; the emulator varies it so a
 *   client cannot rely on one).
 */
import type { NoojeeBodyStyle } from './recordings.js';

const AXIS1_HEAD =
  '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>';
const AXIS1_TAIL = '</soapenv:Body></soapenv:Envelope>';
const AXIS2_NS = 'http://recording.api.njadmin.noojee.com.au';

/** Escapes text for XML content and attribute values. */
export function xmlEscape(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' }[c]};`,
  );
}

/** The text around a base64 payload of operation `op` (default `retrieve`), by body style. */
export function bodyFrame(rec: { style: NoojeeBodyStyle }, op = 'retrieve'): { head: string; tail: string } {
  switch (rec.style) {
    case 'axis1':
      return {
        head: `${AXIS1_HEAD}<ns1:${op}Response soapenv:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" xmlns:ns1="urn:njadmin-api-recording"><${op}Return xsi:type="xsd:base64Binary">`,
        tail: `</${op}Return></ns1:${op}Response>${AXIS1_TAIL}`,
      };
    case 'axis2':
      return {
        head: `<?xml version='1.0' encoding='UTF-8'?><ns:${op}Response xmlns:ns="${AXIS2_NS}"><ns:return>`,
        tail: `</ns:return></ns:${op}Response>`,
      };
    case 'bare':
      return { head: '', tail: '' };
  }
}

/** An Axis 1 answer of a void operation (start, stop): an empty `{op}Response`. */
export function voidResponse(op: string): string {
  return `${AXIS1_HEAD}<ns1:${op}Response soapenv:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" xmlns:ns1="urn:njadmin-api-recording"/>${AXIS1_TAIL}`;
}

/**
 * A SOAP 1.1 fault envelope. `style` picks the prefix (`soapenv` for Axis 1, `SOAP-ENV` for the Axis 2
 * reading) and whether Axis 1's `detail/hostname` is present.
 */
export function faultEnvelope(
  faultcode: string,
  faultstring: string,
  style: 'axis1' | 'axis2' = 'axis1',
): string {
  const p = style === 'axis1' ? 'soapenv' : 'SOAP-ENV';
  const detail =
    style === 'axis1'
      ? '<detail><ns1:hostname xmlns:ns1="http://xml.apache.org/axis/">pbx.sandbox</ns1:hostname></detail>'
      : '';
  return `<?xml version="1.0" encoding="UTF-8"?><${p}:Envelope xmlns:${p}="http://schemas.xmlsoap.org/soap/envelope/"><${p}:Body><${p}:Fault><faultcode>${p}:${xmlEscape(faultcode)}</faultcode><faultstring>${xmlEscape(faultstring)}</faultstring>${detail}</${p}:Fault></${p}:Body></${p}:Envelope>`;
}
