package io.usageguard.core;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * An IPv4 or IPv6 network, parsed once. {@code 10.0.0.0/8}, {@code 2001:db8::/32}, or a single
 * address. An IPv4-mapped IPv6 address matches the IPv4 network it maps.
 */
public final class Cidr {

    private final byte[] network;
    private final int prefix;
    private final String text;

    private Cidr(byte[] network, int prefix, String text) {
        this.network = network;
        this.prefix = prefix;
        this.text = text;
    }

    public static Cidr parse(String text) {
        String s = text.trim();
        int slash = s.indexOf('/');
        String addr = slash < 0 ? s : s.substring(0, slash);
        if (!IpLiterals.isLiteral(addr)) {
            throw new IllegalArgumentException("not an IP network: " + text);
        }
        byte[] bytes;
        try {
            bytes = normalise(InetAddress.getByName(addr).getAddress());
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not an IP network: " + text, e);
        }
        int max = bytes.length * 8;
        int prefix;
        try {
            prefix = slash < 0 ? max : Integer.parseInt(s.substring(slash + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad prefix length in " + text, e);
        }
        if (prefix < 0 || prefix > max) {
            throw new IllegalArgumentException("bad prefix length in " + text);
        }
        byte[] masked = mask(bytes, prefix);
        return new Cidr(masked, prefix, IpLiterals.format(masked) + "/" + prefix);
    }

    public static List<Cidr> parseAll(Collection<String> texts) {
        List<Cidr> out = new ArrayList<>();
        if (texts != null) {
            for (String t : texts) {
                if (t != null && !t.isBlank()) {
                    out.add(parse(t));
                }
            }
        }
        return List.copyOf(out);
    }

    public static boolean anyContains(List<Cidr> cidrs, InetAddress address) {
        for (int i = 0, n = cidrs.size(); i < n; i++) {
            if (cidrs.get(i).contains(address)) {
                return true;
            }
        }
        return false;
    }

    public boolean contains(InetAddress address) {
        if (address == null) {
            return false;
        }
        byte[] a = normalise(address.getAddress());
        if (a.length != network.length) {
            return false;
        }
        int full = prefix / 8;
        for (int i = 0; i < full; i++) {
            if (a[i] != network[i]) {
                return false;
            }
        }
        int rest = prefix % 8;
        if (rest == 0) {
            return true;
        }
        int m = (0xff << (8 - rest)) & 0xff;
        return (a[full] & m) == (network[full] & m);
    }

    /** The network of {@code address} at the given prefix lengths, e.g. 203.0.113.0/24. */
    public static String networkOf(InetAddress address, int ipv4Prefix, int ipv6Prefix) {
        byte[] a = normalise(address.getAddress());
        int p = a.length == 4 ? ipv4Prefix : ipv6Prefix;
        return IpLiterals.format(mask(a, p)) + "/" + p;
    }

    static byte[] normalise(byte[] a) {
        if (a.length == 16) {
            boolean mapped = true;
            for (int i = 0; i < 10; i++) {
                if (a[i] != 0) {
                    mapped = false;
                    break;
                }
            }
            if (mapped && a[10] == (byte) 0xff && a[11] == (byte) 0xff) {
                return new byte[] {a[12], a[13], a[14], a[15]};
            }
        }
        return a;
    }

    private static byte[] mask(byte[] bytes, int prefix) {
        byte[] out = bytes.clone();
        for (int i = 0; i < out.length; i++) {
            int bitsHere = Math.max(0, Math.min(8, prefix - i * 8));
            int m = bitsHere == 0 ? 0 : (0xff << (8 - bitsHere)) & 0xff;
            out[i] = (byte) (out[i] & m);
        }
        return out;
    }

    @Override
    public String toString() {
        return text;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Cidr c && c.text.equals(text);
    }

    @Override
    public int hashCode() {
        return text.hashCode();
    }
}
