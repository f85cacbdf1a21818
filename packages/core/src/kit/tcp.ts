// What BCC's TCP tools (tcplife, tcpstates, tcpconnlat, tcpretrans) share on
// the command line and in their knobs: -4/-6 (the API's `family`), -L/-D port
// lists (in the kernel: bpf/include/ebpf/port_filter.h), and the display
// flags tcplife and tcpstates spell alike.
import { addressFamily, portBits } from '../kernel/inet.js';
import { apiOption, ipFamily, option, ports } from './options.js';

const display = { cliOnly: true } as const;

/** The API's `family` (4 or 6); the CLIs set it from -4 and -6 (familyFlags, familyOf). */
export const familyOption = apiOption('trace this address family only', ipFamily);

/** BCC's -4 and -6, which conflict. */
export const familyFlags = {
  ipv4: option('-4, --ipv4', 'trace IPv4 family only', undefined, { cliOnly: true, conflicts: ['ipv6'] }),
  ipv6: option('-6, --ipv6', 'trace IPv6 family only', undefined, { cliOnly: true, conflicts: ['ipv4'] }),
};

/** The `family` -4 or -6 asks for (undefined: both). */
export const familyOf = (f: { ipv4?: boolean; ipv6?: boolean }): 4 | 6 | undefined => (f.ipv4 ? 4 : f.ipv6 ? 6 : undefined);

/** BCC's -L LPORTS and -D RPORTS, as the API's localPorts and remotePorts. */
export const portOptions = {
  localPorts: option('-L, --localport <LPORTS>', 'comma-separated list of local ports to trace.', ports),
  remotePorts: option('-D, --remoteport <RPORTS>', 'comma-separated list of remote ports to trace.', ports),
};

/** The knobs of the family and port filters: targ_family and ebpf/port_filter.h's. */
export function tcpFilterKnobs(o: { family?: 4 | 6; localPorts?: number[]; remotePorts?: number[] }) {
  return {
    targ_family: addressFamily(o.family),
    filter_lport: o.localPorts !== undefined,
    filter_rport: o.remotePorts !== undefined,
    lport_bits: portBits(o.localPorts),
    rport_bits: portBits(o.remotePorts),
  };
}

/** tcplife's and tcpstates' display flags: -T -t -w -s. */
export const tcpDisplayFlags = {
  time: option('-T, --time', 'include time column on output (HH:MM:SS)', undefined, display),
  timestamp: option('-t, --timestamp', 'include timestamp on output (seconds)', undefined, display),
  wide: option('-w, --wide', 'wide column output (fits IPv6 addresses)', undefined, display),
  csv: option('-s, --csv', 'comma separated values output', undefined, display),
};
