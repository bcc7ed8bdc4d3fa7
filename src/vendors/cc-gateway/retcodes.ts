/**
 * AgentGateway retcodes: what each means, and which recpull error each becomes.
 *
 * Meanings: reference/huawei/agentgateway-retcodes.tsv (Huawei's QuickAgentDemo table, kept verbatim), plus
 * the 104-xxx codes of recordfile (seed huawei-cc-gateway-download-recordings.txt lists 104-001, 104-005 and
 * 104-010 without text; their meanings are those given in issue 8). Every failure answer of the gateway is
 * JSON `{retcode, message, result}`, whatever the HTTP status; `0` is success.
 */
import { RecpullError } from '../../core/errors.js';
import { redact } from '../../core/redact.js';

/** Retcode → meaning. */
export const RETCODES: Readonly<Record<string, string>> = {
  '000-001': 'The method for obtaining agent events is incorrect.',
  '000-002':
    'The parameters transmitted using the URL are incorrect, the IP address is incorrect, or the interface parameters are invalid and do not comply with relevant definitions',
  '000-003': 'The agent has no right to invoke interfaces',
  '000-004': 'The agent is switching to another server',
  '100-001': 'The login parameters are null or set incorrectly',
  '100-002': 'The agent has logged in',
  '100-003':
    'During agent login, the exception ResourceUnavailableException or ProviderUnavailableException is thrown',
  '100-004': 'The agent enters an incorrect user name or password during login',
  '100-005': 'The logout parameters are invalid',
  '100-006': 'The agent has not logged in',
  '100-007':
    'An exception occurs when the agent performs an operation. The possible cause is that WAS resources are not accessible or an internal error occurs',
  '100-008': 'The agent has logged out',
  '100-009': 'The agent fails to configure the status',
  '100-010': 'A logout state error occurs',
  '100-011': 'The login parameters are invalid',
  '100-012': 'The agent type used for login is invalid',
  '100-013': 'The agent phone number to be bound is invalid',
  '100-014': 'The agent phone number used for login is out of the configured range',
  '100-015': 'The agent has logged in, and cannot be forcibly logged out',
  '100-016': 'The IP address is invalid during login',
  '110-016': 'The account is locked',
  '101-001': 'The agent has no conferenece',
  '101-002': 'The agent is not chairman of current conferenece',
  '200-001': 'The number dialed by the agent is incorrect',
  '200-002': 'No call exists for the agent to answer',
  '200-003': 'No call exists for the agent to mute',
  '200-004': 'The call state is incorrect when the agent mutes the call',
  '200-005': 'No call exists for the agent to hold',
  '200-006': 'No call is held during call holding',
  '200-007': 'No call exists for the agent to unmute',
  '200-008': 'A call state error occurs when the agent unmutes a call',
  '200-009': 'No call exists for the agent to play an announcement',
  '200-010': 'No call exists for the agent to perform three-party conversation',
  '200-011': 'No call is held for the agent to perform three-party conversation',
  '200-012': 'No call exists for the agent to transfer',
  '200-013': 'No call exists for the agent to hold',
  '200-014': 'A call state error occurs after the agent holds the call',
  '200-015': 'No call exists for the agent to unhold',
  '200-016': 'A call state error occurs when the agent unholds the call',
  '200-017': 'No call exists for the agent to end',
  '200-018': 'No call exists for the agent to ask for internal help',
  '200-019': 'No call exists for the agent to still',
  '200-020': 'A call state error occurs when the agent stills the image of a call',
  '200-021': 'No call exists for the agent to unstill',
  '200-022': 'A call state error occurs when the agent unstills the image of a call',
  '200-023': 'No call exists when the agent releases the specified phone number',
  '200-024': 'No phone number exists when the agent releases the phone number',
  '200-025': 'No call exists when the agent releases the call',
  '200-026': 'No call exists',
  '210-001': 'No URL information is found',
  '300-001': 'The agent has no right to query agent information',
  '300-002': 'The agent does not exist when agents are queried',
  '300-003': 'The agent does not exist when agent groups are queried',
  '300-004': 'The agent group does not exist when agent groups are queried',
  '400-001': 'No call information exists when the agent sets call-associated data',
  '400-003': 'No call information exists when the agent queries held calls',
  '500-001': 'A state error occurs when recording is rewound',
  '500-002': 'A state error occurs when recording is fast forwarded',
  '500-003': 'A state error occurs when recording playback pauses',
  '500-004': 'A state error occurs when recording pauses',
  '500-005': 'A state error occurs when recording playback resumes',
  '500-006': 'A state error occurs when recording resumes',
  '500-007': 'A state error occurs when recording playback starts',
  '500-008': 'A state error occurs when recording starts',
  '500-009': 'A state error occurs when recording playback stops',
  '500-010': 'A state error occurs when recording stops',
  '600-001':
    'No information about the agent exists or no skill queue is configured for the agent when the agent queries information about the skill queues of the agent',
  '600-002':
    'No skill queue information exists when the agent queries the information about skill queues of a specified VDN',
  '600-003':
    'No configuration information exists when the agent queries the access code of the home VDN of the agent',
  '600-004':
    'No configuration information exists when the agent queries the IVR information of the home VDN of the agent',
  '600-005':
    'No skill queue information exists when the agent queries the information about skill queues of the home VDN of the agent',
  '700-001': 'The parameter of conference memeber is empty',
  '700-002': 'The result of querying conference status is null',
  '700-003': 'Send message fail',
  '701-001': 'The parameter of conference memeber is empty',
  '701-002': 'The result of querying conference status is null',
  '701-003': 'When apply for a conferenece, the applicant or Participant have joined in conference',
  '701-004': 'When invite the participants, the current agent is not in the conferenece',
  '701-005':
    'When stop the conference, the conference is not existed or the current agent has not right to stop',
  '701-006': 'When apply for a conferenece, the MS IP is not configurated in WAS',
  '800-001': 'Proxy service is null',
  '800-002': 'When query configuration information, the exception occurs',
  '800-003': 'The default media gateway information is not existed',
  '900-001': 'A NOPROVIDER exception occurs during the quality control operation',
  '900-002': 'The necessary right is not granted for the quality control operation',
  '900-003': 'The ResourceUnavailable exception occurs during the quality control operation',
  '900-004': 'No agent information exists during monitoring for quality control',
  '900-005': 'A state error occurs during the quality control operation',
  '900-006': 'The video recording time parameter is invalid during the quality control operation',
  '900-007': 'No video recording license is loaded during the quality control operation',
  '900-008': 'An unknown video recording platform exception occurs during the quality control operation',
  '900-009': 'No quality control task is found when the task is deleted',
  '999-001': 'The WAS URL in the configuration file of the server is incorrect',
  '104-001': 'The recording download function is not enabled on the gateway',
  '104-005': 'The recording file does not exist',
  '104-010': 'The node (locationId) is not configured for recording download',
};

/** The retcodes that say the session (or its GUID) is gone: `100-006` not signed in / expired, `000-003` no right. */
export const SESSION_RETCODES: ReadonlySet<string> = new Set(['100-006', '000-003']);

/** `104-005 (The recording file does not exist)`, with the gateway's own message when it adds something. */
export function describeRetcode(retcode: string, message?: string): string {
  const meaning = RETCODES[retcode];
  const extra = message && message.trim() !== '' && message.trim() !== meaning ? `: ${message.trim()}` : '';
  return redact(`${retcode}${meaning ? ` (${meaning})` : ''}${extra}`).slice(0, 400);
}

/**
 * The error of a sign-in (or forcelogin) refused with `retcode`: always `E_AUTH` (exit 3), naming the
 * retcode and its meaning, and the profile (and config file) when given. `100-002` gets the advice to use
 * `--force-login`; `100-004` the config keys to check.
 */
export function signInError(
  retcode: string,
  message: string | undefined,
  agentId: string,
  where: { profile?: string; configFile?: string } = {},
): RecpullError {
  const keys = where.profile
    ? `cc-gateway.${where.profile}.agentId and password${where.configFile ? ` in ${where.configFile}` : ''}`
    : 'the agent id and password';
  const advice =
    retcode === '100-002'
      ? '; another session holds this agent (a softphone, an agent desktop or an earlier run). Sign it out there, or run again with --force-login to take the agent over'
      : retcode === '100-004'
        ? `; check ${keys}`
        : '';
  const profile = where.profile ? ` (profile "${where.profile}")` : '';
  return new RecpullError(
    'E_AUTH',
    `the CC-Gateway refused to sign in agent ${agentId}${profile}: ${describeRetcode(retcode, message)}${advice}`,
    { vendorCode: retcode },
  );
}

/**
 * The error of a recordfile answer with a failure `retcode` (not a session code, which the session handles):
 * - `104-005` → `E_NOT_FOUND` (the item fails);
 * - `000-002` → `E_INPUT` (the item fails as bad input: recordId, filetype or locationId);
 * - `104-001` and `104-010` → `E_PERMISSION` (the gateway is not set up for downloads: stops the run, exit 3);
 * - `000-004` (switching server), `100-007` (internal error) → retryable `E_HTTP`;
 * - `000-003` while the session is alive → `E_HTTP`, not retryable (this file only is refused);
 * - anything else → `E_PROTOCOL`, not retryable.
 */
export function downloadError(retcode: string, message: string | undefined, key?: string): RecpullError {
  const what = describeRetcode(retcode, message);
  const opts = { vendorCode: retcode, status: 200, ...(key ? { key } : {}) };
  switch (retcode) {
    case '104-005':
      return new RecpullError('E_NOT_FOUND', `the CC-Gateway has no such recording: ${what}`, opts);
    case '000-002':
      return new RecpullError('E_INPUT', `the CC-Gateway refused the request parameters: ${what}`, opts);
    case '104-001':
    case '104-010':
      return new RecpullError(
        'E_PERMISSION',
        `the CC-Gateway cannot serve recordings: ${what}; its administrator must enable recording download and map the file server`,
        opts,
      );
    case '000-004':
    case '100-007':
      return new RecpullError('E_HTTP', `the CC-Gateway answered ${what}`, { ...opts, retryable: true });
    case '000-003':
      return new RecpullError('E_HTTP', `the CC-Gateway refused this recording: ${what}`, opts);
    default:
      return new RecpullError('E_PROTOCOL', `the CC-Gateway answered ${what}`, opts);
  }
}
