package io.usageguard.sharing;

import java.net.InetAddress;

/**
 * A client address reduced to its network (IPv4 /24, IPv6 /48 by default) as one 64-bit value,
 * without formatting a string: what the per-key and per-address tables are keyed by. IPv4-mapped
 * IPv6 addresses count as the IPv4 address they map.
 */
public final class NetworkKeys {

    private NetworkKeys() {
    }

    /** A well-mixed 64-bit hash of the network of {@code address}; never 0. */
    public static long of(InetAddress address, int ipv4Prefix, int ipv6Prefix) {
        byte[] a = address.getAddress();
        if (a.length == 16 && isMapped(a)) {
            return v4(a, 12, ipv4Prefix);
        }
        if (a.length == 4) {
            return v4(a, 0, ipv4Prefix);
        }
        long hi = 0;
        long lo = 0;
        for (int i = 0; i < 8; i++) {
            hi = (hi << 8) | (a[i] & 0xff);
            lo = (lo << 8) | (a[i + 8] & 0xff);
        }
        hi &= mask64(Math.min(64, ipv6Prefix));
        lo &= mask64(Math.max(0, ipv6Prefix - 64));
        return nonZero(mix(hi ^ 0x6a09e667f3bcc909L) ^ mix(lo + 0x3c6ef372fe94f82bL) ^ ipv6Prefix);
    }

    private static long v4(byte[] a, int off, int prefix) {
        long v = ((a[off] & 0xffL) << 24) | ((a[off + 1] & 0xffL) << 16) | ((a[off + 2] & 0xffL) << 8) | (a[off + 3] & 0xffL);
        v &= prefix == 0 ? 0 : (0xffffffffL << (32 - prefix)) & 0xffffffffL;
        return nonZero(mix(v | (4L << 56) | ((long) prefix << 48)));
    }

    private static boolean isMapped(byte[] a) {
        for (int i = 0; i < 10; i++) {
            if (a[i] != 0) {
                return false;
            }
        }
        return a[10] == (byte) 0xff && a[11] == (byte) 0xff;
    }

    private static long mask64(int bits) {
        return bits <= 0 ? 0 : bits >= 64 ? -1L : -1L << (64 - bits);
    }

    /** SplitMix64's finaliser: a bijection, so distinct networks never collide before the table. */
    static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    static long nonZero(long h) {
        return h == 0 ? 1 : h;
    }

    /** A 64-bit hash of a short string (FNV-1a, then mixed); never 0. */
    static long ofString(String s) {
        long h = 0xcbf29ce484222325L;
        for (int i = 0; i < s.length(); i++) {
            h ^= s.charAt(i);
            h *= 0x100000001b3L;
        }
        return nonZero(mix(h));
    }
}
