package io.usageguard.observability;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * The network a client address belongs to, for logs: its IPv4 /24 or IPv6 /48, never the full
 * address. An IPv4-mapped IPv6 address is treated as the IPv4 address it carries.
 */
public final class ClientNetworks {

    private ClientNetworks() {
    }

    public static String of(InetAddress address) {
        if (address == null) {
            return null;
        }
        byte[] b = address.getAddress();
        if (address instanceof Inet6Address && isV4Mapped(b)) {
            b = new byte[] {b[12], b[13], b[14], b[15]};
        }
        if (b.length == 4) {
            return (b[0] & 0xff) + "." + (b[1] & 0xff) + "." + (b[2] & 0xff) + ".0/24";
        }
        byte[] masked = new byte[16];
        System.arraycopy(b, 0, masked, 0, 6);
        try {
            String text = InetAddress.getByAddress(masked).getHostAddress();
            return compress(text) + "/48";
        } catch (UnknownHostException e) {
            return null; // cannot happen for 16 bytes
        }
    }

    private static boolean isV4Mapped(byte[] b) {
        if (b.length != 16) {
            return false;
        }
        for (int i = 0; i < 10; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return b[10] == (byte) 0xff && b[11] == (byte) 0xff;
    }

    /** {@code 2001:db8:1:0:0:0:0:0} → {@code 2001:db8:1::}. */
    private static String compress(String full) {
        String s = full;
        int percent = s.indexOf('%');
        if (percent >= 0) {
            s = s.substring(0, percent);
        }
        String[] groups = s.split(":");
        int last = groups.length;
        while (last > 0 && groups[last - 1].equals("0")) {
            last--;
        }
        if (last == groups.length) {
            return s;
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < last; i++) {
            sb.append(groups[i]).append(':');
        }
        return sb.append(':').toString();
    }
}
